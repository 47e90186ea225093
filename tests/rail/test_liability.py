"""Liability and aging as of an instant: equal to the caches now, to the postings before."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, text

from conftest import BUYER, PROVIDER, START
from engine.domain.actors import Actor
from engine.domain.errors import ValidationError
from engine.domain.liability import FIGURES, Liability
from engine.service.fundings import Charge
from engine.store.models import UTCDateTime
from rail.conftest import released
from rail.test_chargebacks import charge_back
from rail.test_payouts import pay

T0 = START - timedelta(days=100)
OTHER_BUYER, OTHER_PROVIDER = Actor("buyer-2"), Actor("provider-2")


def stamp(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def story(tranche, clock):
    """A ledger made over 100 days: two releases to the provider, a payout of the first,
    a pending funding, a milestone in escrow, another tenant's provider in debt after a
    chargeback; returns the instants at which something was posted."""
    clock.set(T0)
    moments = [T0]

    def at(days: float) -> None:
        clock.set(T0 + timedelta(days=days))
        moments.append(clock.now())

    contract = tranche.create_contract(
        buyer_id=BUYER.id, provider_id=PROVIDER.id, currency="USD", agreed_amount=90_000, title="W"
    )
    first = tranche.add_milestone(contract.id, title="One", amount=25_000)
    released(tranche, first.id, "pi_1")  # 23,750 owed to the provider (day 0)
    at(40)
    second = tranche.add_milestone(contract.id, title="Two", amount=30_000)
    released(tranche, second.id, "pi_2")  # 28,500 more (day 40)
    at(61)
    payout = pay(tranche, contract, 23_750, "tr_1")
    third = tranche.add_milestone(contract.id, title="Three", amount=10_000)
    tranche.open_funding(third.id, "fund", BUYER)  # 10,000 pending funding
    at(71)
    tranche.settle_payout(payout.id, True)
    fourth = tranche.add_milestone(contract.id, title="Four", amount=20_000)
    tranche.fund_confirmed(fourth.id, "fund", BUYER, Charge("pi_4", 20_000, "USD"))
    at(95)
    elsewhere = tranche.create_contract(
        buyer_id=OTHER_BUYER.id,
        provider_id=OTHER_PROVIDER.id,
        currency="EUR",
        agreed_amount=10_000,
        title="W",
        tenant="acme",
    )
    theirs = tranche.add_milestone(elsewhere.id, title="Only", amount=10_000)
    charge = Charge("pi_9", 10_000, "EUR")
    tranche.fund_confirmed(theirs.id, "fund", OTHER_BUYER, charge, tenant="acme")
    tranche.fire(theirs.id, "approve", OTHER_BUYER, tenant="acme")
    paid = pay(tranche, elsewhere, 9_500, "tr_9", OTHER_PROVIDER.id, "EUR")
    tranche.settle_payout(paid.id, True)
    at(99)
    charge_back(tranche, "pi_9", 10_000, "du_9", "acme", "EUR")
    clock.set(START)
    return moments


def test_now_the_report_is_the_cached_balances_and_milestone_figures(tranche, story):
    usd = tranche.liability(None, "default").lines
    assert usd == [Liability("USD", in_escrow=20_000, pending_funding=10_000, available=28_500)]
    assert usd[0].total == 48_500
    eur = tranche.liability(None, "acme").lines
    assert eur == [Liability("EUR", debts=9_500)]
    assert tranche.liability(None, None).lines == eur + usd  # every tenant, per currency
    with tranche.reading() as uow:
        cached = uow.session.execute(
            text(
                "SELECT c.currency, sum(m.escrow), sum(m.pending_funding) FROM milestones m"
                " JOIN contracts c ON c.id = m.contract_id GROUP BY c.currency ORDER BY 1"
            )
        ).all()
        balances = uow.session.execute(
            text(
                "SELECT currency, sum(pending), sum(CASE WHEN available > 0 THEN available"
                " ELSE 0 END), sum(in_flight), sum(debt) FROM party_balances"
                " GROUP BY currency ORDER BY 1"
            )
        ).all()
    figures = [(x.currency, x.in_escrow, x.pending_funding) for x in eur + usd]
    assert figures == [tuple(row) for row in cached]
    figures = [(x.currency, x.held, x.available, x.in_flight, x.debts) for x in eur + usd]
    assert figures == [tuple(row) for row in balances]


def _from_the_postings(tranche, as_of, tenant) -> list[Liability]:
    """The oracle: every posting of every entry made at or before `as_of`, summed afresh."""
    with tranche.reading() as uow:
        rows = uow.session.execute(
            text(
                "SELECT p.currency, p.account, p.party_id, sum(p.amount) FROM postings p"
                " JOIN ledger_entries e ON e.id = p.entry_id"
                " JOIN contracts c ON c.id = p.contract_id"
                " WHERE e.created_at <= :at AND c.tenant = :tenant"
                " GROUP BY p.currency, p.account, p.party_id"
            ).bindparams(bindparam("at", type_=UTCDateTime)),
            {"at": as_of, "tenant": tenant},
        ).all()
    lines: dict[str, dict[str, int]] = {}
    parties: dict[tuple[str, str], int] = {}
    for currency, account, party, amount in rows:
        line = lines.setdefault(currency, dict.fromkeys(FIGURES, 0))
        if account == "payable":
            parties[(currency, party)] = int(amount)
        name = {"escrow": "in_escrow", "payable_pending": "held"}.get(account, account)
        name = {"payout_in_flight": "in_flight"}.get(name, name)
        if name in line and name != "available":
            line[name] += int(amount)
    for (currency, _), amount in parties.items():
        lines[currency]["available" if amount > 0 else "debts"] += abs(amount)
    found = [Liability(currency, **figures) for currency, figures in sorted(lines.items())]
    return [line for line in found if any(line.as_dict()[n] for n in FIGURES)]


def test_as_of_an_instant_counts_the_entries_made_then_and_none_after(tranche, story):
    for moment in story:
        for instant in (moment - timedelta(microseconds=1), moment):
            for tenant in ("default", "acme"):
                report = tranche.liability(stamp(instant), tenant)
                assert report.lines == _from_the_postings(tranche, instant, tenant), instant
    assert tranche.liability(stamp(T0 - timedelta(seconds=1)), "default").lines == []
    on_day_61 = tranche.liability(stamp(T0 + timedelta(days=61)), "default").lines
    assert on_day_61 == [
        Liability("USD", pending_funding=10_000, available=28_500, in_flight=23_750)
    ]


def test_aging_is_first_in_first_out(tranche, story, clock):
    """The payout on day 61 paid the first release (day 0): the provider is owed the
    second, 60 days old on day 100 and 61 days old a day later."""
    on_day_100 = tranche.aging(stamp(T0 + timedelta(days=100)), "default").lines
    assert [row.as_dict() for row in on_day_100] == [
        {
            "tenant": "default",
            "party_id": PROVIDER.id,
            "currency": "USD",
            "owed": 28_500,
            "buckets": {"0-7": 0, "8-30": 0, "31-60": 28_500, "61-90": 0, ">90": 0},
        }
    ]
    clock.advance(timedelta(days=1))
    later = tranche.aging(stamp(T0 + timedelta(days=101)), "default").lines
    assert later[0].buckets["61-90"] == 28_500
    before_the_payout = tranche.aging(stamp(T0 + timedelta(days=60)), "default").lines
    assert before_the_payout[0].buckets == {
        "0-7": 0,
        "8-30": 28_500,
        "31-60": 23_750,
        "61-90": 0,
        ">90": 0,
    }
    assert tranche.aging(None, "acme").lines == []  # a debt is owed to the platform


@pytest.mark.parametrize(
    ("as_of", "says"),
    [
        ("yesterday", "is not an ISO 8601 instant"),
        ("2026-10-31", "has no time zone"),
        ("2026-10-31T23:59:59", "has no time zone"),
        ("2026-13-01T00:00:00Z", "is not an ISO 8601 instant"),
        ("2027-01-01T00:00:00Z", "is in the future"),
    ],
)
def test_a_bad_instant_is_refused_by_name(tranche, as_of, says):
    for report in (tranche.liability, tranche.aging):
        with pytest.raises(ValidationError, match=says) as refused:
            report(as_of, "default")
        assert refused.value.code == "invalid_as_of"


def report(database, *args):
    from click.testing import CliRunner

    from web.cli import main

    return CliRunner().invoke(main, ["--database-url", database.url, "report", *args])


def test_the_command_line_reports_one_tenant_or_all(database, story):
    day_61 = stamp(T0 + timedelta(days=61))
    done = report(
        database, "liability", "--as-of", day_61, "--tenant", "default", "--format", "csv"
    )
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "currency,in_escrow,pending_funding,held,available,in_flight,debts,total",
        "USD,0,10000,0,28500,23750,0,52250",
    ]
    done = report(database, "liability")  # every tenant, now, as a table
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[1:] == [
        "currency  in_escrow  pending_funding  held  available  in_flight  debts   total",
        "EUR            0.00             0.00  0.00       0.00       0.00  95.00    0.00",
        "USD          200.00           100.00  0.00     285.00       0.00   0.00  485.00",
    ]
    done = report(database, "aging", "--as-of", stamp(START), "--format", "json")
    assert done.exit_code == 0, done.output
    assert [(r["party_id"], r["owed"]) for r in json.loads(done.output)["data"]] == [
        (PROVIDER.id, 28_500)
    ]
    done = report(database, "aging", "--tenant", "nobody")
    assert done.output.splitlines()[1:] == ["nothing to report"]


BAD_ARGUMENTS = [
    (["--as-of", "2026-10-31"], "Invalid value for --as-of: '2026-10-31' has no time zone"),
    (["--as-of", "soon"], "Invalid value for --as-of: 'soon' is not an ISO 8601 instant"),
    (["--format", "xml"], "Invalid value for '--format'"),
]


def test_a_bad_argument_is_named_and_exits_2(database):
    for name in ("liability", "aging"):
        for args, says in BAD_ARGUMENTS:
            done = report(database, name, *args)
            assert done.exit_code == 2, args
            assert says in done.output, args
