"""Notices are written by the database in each notifying event's own INSERT: for the
parties the event names, once each, with their mail queued if they have an address, and
never without their event."""

from __future__ import annotations

import pytest
from alembic import command

from conftest import BUYER
from engine.domain.errors import ValidationError
from engine.service import milestones, parties
from engine.store import notices
from engine.store.db import Database
from engine.store.events import append


def told(tranche, contract):
    return tranche.read(lambda uow: notices.of_contract(uow.session, contract.id))


def test_a_refund_request_tells_the_provider_and_queues_its_mail(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)
    tranche.write(
        lambda uow: parties.mint_link(
            uow, contract.tenant, contract.id, "provider", email="p@example.com"
        )
    )
    event = tranche.fire(milestone.id, "request_refund", BUYER)
    [notice] = [n for n in told(tranche, contract) if n.event_id == event.id]
    assert (notice.role, notice.party_id, notice.event_type) == (
        "provider",
        contract.provider_id,
        "request_refund",
    )
    assert (notice.email_to, notice.email_status) == ("p@example.com", notices.PENDING)
    assert notice.email_next_at == notice.created_at == event.created_at
    assert notice.milestone_id == milestone.id


def test_only_parties_are_told_once_each_and_silent_events_tell_nobody(tranche, contract):
    def write(uow, notify):
        row = uow.session.get(type(contract), contract.id)
        return append(
            uow.session,
            row,
            "hand_written",
            "someone",
            "buyer",
            uow.clock.now(),
            policy=(row.policy_name, row.policy_version),
            data={"notify": notify} if notify is not None else {},
        )

    # An event's id is known once its INSERT went out: on PostgreSQL, at the commit.
    noisy = tranche.write(lambda uow: write(uow, ["buyer", "buyer", "staff", 7])).id
    silent = tranche.write(lambda uow: write(uow, None)).id
    odd = tranche.write(lambda uow: write(uow, "provider")).id  # not a list
    rows = told(tranche, contract)
    assert [(n.event_id, n.role, n.email_status) for n in rows] == [
        (noisy, "buyer", notices.NO_ADDRESS)
    ]
    assert silent not in {n.event_id for n in rows}
    assert odd not in {n.event_id for n in rows}


def test_a_notice_never_outlives_its_rolled_back_event(tranche, contract, milestone):
    tranche.fire(milestone.id, "fund", BUYER)

    def fails(uow):
        milestones.fire_event(uow, milestone.id, "request_refund", BUYER)
        raise ValidationError("changed my mind")

    with pytest.raises(ValidationError):
        tranche.write(fails)
    assert [n.event_type for n in told(tranche, contract)] == []


def test_the_migration_goes_down_and_up_again(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'party.db'}")
    database.upgrade()
    command.downgrade(database.migrations(), "0015_party_pages@-1")
    command.upgrade(database.migrations(), "heads")
    database.dispose()
