"""The pure statement: running balances after each movement, plain words, decimals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.errors import ValidationError
from engine.domain.ledger_legs import (
    BUYER_FUNDING,
    CHARGEBACK,
    ESCROW,
    PAID_OUT,
    PAYABLE,
    PAYOUT,
    PAYOUT_IN_FLIGHT,
    PAYOUT_PAID,
    PLATFORM_FEES,
    PLATFORM_LOSSES,
    RAIL_CHARGEBACKS,
    Leg,
)
from engine.domain.money import Money
from engine.domain.policy.vocabulary import HOLD, RELEASE
from engine.domain.statement import COLUMNS, Entry, Record, build

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def entry(n: int, kind: str, legs: list[Leg], memo: str = "", record=None) -> Entry:
    return Entry(n, T0 + timedelta(hours=n), kind, memo, tuple(legs), "Logo", record)


STORY = [
    entry(1, HOLD, [Leg(BUYER_FUNDING, -10_000), Leg(ESCROW, 10_000)], "fund"),
    entry(
        2,
        RELEASE,
        [Leg(ESCROW, -10_000), Leg(PAYABLE, 9_500, "provider"), Leg(PLATFORM_FEES, 500)],
        "approve",
    ),
    entry(
        3,
        PAYOUT,
        [Leg(PAYABLE, -9_500, "provider"), Leg(PAYOUT_IN_FLIGHT, 9_500, "provider")],
        record=Record("payout", "tr_1", "paid", "bob"),
    ),
    entry(
        4,
        PAYOUT_PAID,
        [Leg(PAYOUT_IN_FLIGHT, -9_500, "provider"), Leg(PAID_OUT, 9_500, "provider")],
        record=Record("payout", "tr_1", "paid", "bob"),
    ),
    entry(
        5,
        CHARGEBACK,
        [
            Leg(PAYABLE, -9_500, "provider"),
            Leg(PLATFORM_LOSSES, -500),
            Leg(RAIL_CHARGEBACKS, 10_000),
        ],
        record=Record("chargeback", "du_1", "booked", reason="fraudulent"),
    ),
]


def statement(currency: str = "USD", entries=STORY, party=None):
    return build(
        contract_id="ct_1",
        title="Logo",
        buyer_id="alice",
        provider_id="bob",
        currency=currency,
        agreed=20_000,
        opened_at=T0,
        generated_at=T0 + timedelta(days=1),
        entries=entries,
        party=party,
    )


def test_each_row_carries_the_balances_after_its_movement() -> None:
    rows = statement().rows
    names = [name for name, _ in COLUMNS]
    table = [[row.balances.values()[name] for name in names] for row in rows]
    # agreed, funded, pending, in escrow, paid to date, refunded, fees, paid out, debts
    assert table == [
        [20_000, 10_000, 0, 10_000, 0, 0, 0, 0, 0],
        [20_000, 10_000, 0, 0, 10_000, 0, 500, 0, 0],
        [20_000, 10_000, 0, 0, 10_000, 0, 500, 0, 0],
        [20_000, 10_000, 0, 0, 10_000, 0, 500, 9_500, 0],
        [20_000, 10_000, 0, 0, 10_000, 0, 500, 9_500, 9_500],
    ]
    assert [row.amount for row in rows] == [10_000, 10_000, 9_500, 9_500, 10_000]
    assert statement().closing.summary.charged_back == 10_000


def test_what_happened_is_said_in_plain_words() -> None:
    assert [row.what for row in statement().rows] == [
        "alice funded the milestone into escrow",
        "released to bob (the buyer approved), less the platform fee of 5.00 USD",
        "payout tr_1 to bob recorded: in flight at the rail",
        "payout tr_1 to bob paid by the rail",
        "chargeback du_1 (fraudulent): the card network took the money back",
    ]


@pytest.mark.parametrize(
    ("currency", "grouped", "plain"),
    [
        ("USD", "1,234,567.89", "1234567.89"),
        ("JPY", "123,456,789", "123456789"),
        ("KWD", "123,456.789", "123456.789"),
    ],
)
def test_amounts_have_the_currency_s_decimals(currency: str, grouped: str, plain: str) -> None:
    found = statement(currency)
    assert found.money(123_456_789) == grouped
    assert found.money(123_456_789, grouped=False) == plain
    assert Money.parse(plain, currency).minor == 123_456_789
    assert found.money(-5) == {"USD": "-0.05", "JPY": "-5", "KWD": "-0.005"}[currency]


def test_a_contract_with_no_movement_closes_on_its_opening_figures() -> None:
    found = statement(entries=[])
    assert found.rows == ()
    assert found.closing.values() == dict.fromkeys(found.closing.values(), 0) | {"agreed": 20_000}


def test_it_is_prepared_for_a_party_and_only_a_party() -> None:
    assert statement(party="provider").party_id == "bob"
    with pytest.raises(ValidationError, match="party must be buyer or provider") as refused:
        statement(party="staff")
    assert refused.value.fields["field"] == "party"
