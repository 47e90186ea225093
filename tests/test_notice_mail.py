"""Notices by email through a real SMTP server: sent, accepted, retried with backoff, and
proved on the milestone's deadline; `tranche notices send` is the worker."""

from __future__ import annotations

import re
from datetime import timedelta

from click.testing import CliRunner
from smtp_server import free_port, smtp_server

from conftest import BUYER
from engine.service import parties
from engine.store import notices
from web.cli import main
from web.party.mail import MailSettings, backoff, send_due

URL = re.compile(r"http://pages\.example/p/(tp_[A-Za-z0-9_-]{43})")


def settings(port: int) -> MailSettings:
    return MailSettings("127.0.0.1", port, "http://pages.example", "tranche@localhost")


def refund_requested(tranche, contract, milestone, email="provider@example.com"):
    tranche.write(
        lambda uow: parties.mint_link(
            uow, contract.tenant, contract.id, "provider", email=email, time_zone="Europe/Berlin"
        )
    )
    tranche.write(
        lambda uow: parties.save_settings(
            uow, contract.tenant, mail_from="escrow@market.example", embed_origins=[], theme={}
        )
    )
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)


def notice_of(tranche, contract):
    return tranche.read(lambda uow: notices.of_contract(uow.session, contract.id, "provider"))[-1]


def test_the_provider_is_mailed_the_refund_request_with_its_deadline(
    tranche, contract, milestone, clock
):
    refund_requested(tranche, contract, milestone)
    with smtp_server() as (port, box):
        clock.advance(timedelta(minutes=2))
        outcomes = send_due(tranche, settings(port))
    assert [o.status for o in outcomes] == ["delivered"]
    mail = box.messages[0]
    assert mail["From"] == "escrow@market.example"
    assert mail["To"] == "provider@example.com"
    body = mail.get_payload()
    assert "request refund" in mail["Subject"]
    assert "December 1, 2026" in body  # the refund deadline, in the provider's zone
    token = URL.search(body).group(1)
    link = tranche.read(lambda uow: parties.open_link(uow, token))
    assert (link.contract_id, link.role) == (contract.id, "provider")
    notice = notice_of(tranche, contract)
    assert notice.email_status == "delivered"
    assert notice.sent_at == notice.delivered_at == clock.now()
    assert notice.email_attempts == 1


def test_a_server_that_is_down_or_refuses_is_retried_with_backoff(
    tranche, contract, milestone, clock
):
    refund_requested(tranche, contract, milestone)
    outcomes = send_due(tranche, settings(free_port()))  # nobody listens there
    assert outcomes[0].error == "connection_refused"
    notice = notice_of(tranche, contract)
    assert notice.email_status == "pending"
    assert notice.email_next_at == clock.now() + timedelta(seconds=30)
    assert send_due(tranche, settings(free_port())) == []  # not due yet
    with smtp_server() as (port, box):
        box.refuse = True
        clock.advance(timedelta(seconds=30))
        assert send_due(tranche, settings(port))[0].error == "smtp_451"
        assert notice_of(tranche, contract).email_next_at == clock.now() + timedelta(minutes=1)
        box.refuse = False
        clock.advance(timedelta(minutes=1))
        assert send_due(tranche, settings(port))[0].status == "delivered"
    assert notice_of(tranche, contract).email_attempts == 3
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 12)] == [30, 60, 120, 3600]


def test_a_party_without_an_address_gets_the_notice_on_its_page_only(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.fire(milestone.id, "request_refund", BUYER)
    assert notice_of(tranche, contract).email_status == "no_address"
    assert send_due(tranche, settings(free_port())) == []


def test_the_cli_sends_what_is_due(tranche, contract, milestone, clock):
    refund_requested(tranche, contract, milestone)
    with smtp_server() as (port, box):
        result = CliRunner().invoke(
            main,
            ["--database-url", tranche.database.url, "notices", "send"]
            + ["--smtp-port", str(port), "--public-url", "http://pages.example"],
        )
    assert result.exit_code == 0, result.output
    assert "to provider@example.com: delivered" in result.output
    assert len(box.messages) == 1
