"""A contract taken through every kind of movement, for its statement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from conftest import BUYER, PROVIDER
from engine.domain.decision import EventArgs
from engine.service.fundings import Charge
from engine.service.tranche import Tranche

LONG_TITLE = "Shop redesign & <checkout>, a title long enough that it has to wrap on the page"


@dataclass(frozen=True)
class Story:
    contract_id: str
    milestone_ids: tuple[str, ...]


def tell_story(
    tranche,
    clock,
    tenant: str = "default",
    currency: str = "USD",
    after: Callable[[str], None] = lambda contract_id: None,
) -> Story:
    """A two-phase funding confirmed, a release with the 5% fee, a direct payment, a partial
    release and the rest refunded, a payout and a refund paid by the rail, a chargeback
    after the payout that leaves the provider in debt, and a funding left pending.
    `after(contract_id)` runs after every step, and the clock moves an hour."""
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency=currency,
        agreed_amount=100_000,
        title=LONG_TITLE,
        tenant=tenant,
    )
    first, second, third = (
        tranche.add_milestone(contract.id, title=title, amount=amount).id
        for title, amount in (("Wireframes", 40_000), ("Visual design", 30_000), ("Build", 30_000))
    )

    def paid(party_id: str, reference: str) -> None:
        payout = tranche.record_payout(
            tenant=tenant,
            contract_id=contract.id,
            party_id=party_id,
            amount=20_000,
            currency=currency,
            reference=reference,
        )
        after(contract.id)
        tranche.settle_payout(payout.id, True)

    def two_phase() -> None:
        funding = tranche.open_funding(first, "fund", BUYER, reference="pi_1")
        after(contract.id)
        clock.advance(timedelta(hours=1))
        tranche.confirm_funding(funding.id, Charge("pi_1", 40_000, currency))

    steps: list[Callable[[], object]] = [
        two_phase,
        lambda: tranche.fire(first, "submit", PROVIDER),
        lambda: tranche.fire(first, "approve", BUYER),
        lambda: tranche.pay_directly(contract.id, actor=BUYER, amount=5_000, note="=a bonus"),
        lambda: tranche.fund_confirmed(second, "fund", BUYER, Charge("pi_2", 30_000, currency)),
        lambda: tranche.fire(second, "release", BUYER, EventArgs(amount=10_000)),
        lambda: tranche.fire(second, "refund", PROVIDER),
        lambda: paid(PROVIDER.id, "tr_1"),
        lambda: paid(BUYER.id, "re_1"),
        lambda: tranche.report_chargeback(
            tenant=tenant,
            funding_reference="pi_1",
            reference="du_1",
            amount=40_000,
            currency=currency,
            reason="fraudulent",
        ),
        lambda: tranche.open_funding(third, "fund", BUYER, reference="pi_3"),
    ]
    for step in steps:
        step()
        after(contract.id)
        clock.advance(timedelta(hours=1))
    return Story(contract.id, (first, second, third))


@pytest.fixture
def sqlite_tranche(sqlite_database, clock) -> Tranche:
    """For what does not depend on the database (rendering): SQLite only, to stay fast."""
    return Tranche(sqlite_database, clock)
