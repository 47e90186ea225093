"""The queue: nearest deadline first, filters, and keyset pages that never skip or repeat."""

from datetime import timedelta

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded

from arbitration import views
from arbitration.views import QueueFilter
from conftest import BUYER, PROVIDER
from engine.domain.errors import ValidationError


@pytest.fixture
def arb(tranche, tmp_path):
    return arbitration_for(tranche, tmp_path)


def test_pages_follow_the_deadline_order_without_gaps_or_repeats(tranche, contract, arb, clock):
    opened = []
    for i in range(7):
        mid = funded(tranche, contract, amount=1_000 + i)
        opened.append(arb.open(mid, BUYER if i % 2 else PROVIDER, f"case {i}").id)
        clock.advance(timedelta(hours=1) if i != 3 else timedelta(0))  # a tie on due_at
    seen, cursor = [], None
    while True:
        page = arb.read(lambda u, c=cursor: views.queue(u, QueueFilter(), c, limit=3))
        seen += [d.id for d in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(opened)
    assert len(seen) == len(set(seen))
    due = arb.read(lambda u: {d.id: (d.due_at, d.id) for d in views.queue(u, QueueFilter()).rows})
    assert seen == sorted(seen, key=lambda i: due[i])


def test_filters_by_amount_assignee_age_and_status(tranche, contract, arb, clock):
    staff = arb.create_staff("rita@example.com", "reviewer", PASSWORD)
    small = arb.open(funded(tranche, contract, amount=1_000), BUYER, "small")
    clock.advance(timedelta(days=10))
    big = arb.open(funded(tranche, contract, amount=50_000), BUYER, "big")
    arb.claim(big.id, staff, "10.0.0.1")

    def ids(**kw):
        return [d.id for d in arb.read(lambda u: views.queue(u, QueueFilter(**kw)).rows)]

    assert ids(min_amount=10_000, currency="USD") == [big.id]
    assert ids(max_amount=10_000, currency="USD") == [small.id]
    assert ids(currency="EUR") == []
    with pytest.raises(ValidationError, match="needs a currency"):
        QueueFilter(min_amount=10_000)
    assert ids(assignee=staff.id) == [big.id]
    assert ids(assignee=views.UNASSIGNED) == [small.id]
    assert ids(older_than_days=7) == [small.id]
    assert ids(status="settled") == []
    with pytest.raises(ValidationError):
        QueueFilter(status="bogus")
    with pytest.raises(ValidationError):
        arb.read(lambda u: views.queue(u, QueueFilter(), after="garbage"))
