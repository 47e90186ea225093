"""Test mode: a sandbox tenant has its own clock and a pretend rail, and never meets live data.

A tenant's mode is in its name: sandbox tenants, and only they, start with `test_`
(live tenants are named after their first key, `key_...`, and a key can join only a
tenant of its own mode). So every query that must keep the two apart tells them apart
by a prefix, with no lookup, and no live key can name a sandbox tenant or the reverse.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.domain.errors import ClockNotForwardError, ValidationError

TEST_PREFIX = "test_"
LONGEST_ADVANCE = timedelta(days=5 * 366)
"""How far one advance may move a test clock: the slowest path (a year-long review
period, a chargeback months after release) fits many times over."""
FAILURE_REASON_LENGTH = 500


def is_test_tenant(tenant: str) -> bool:
    return tenant.startswith(TEST_PREFIX)


def advanced(now: datetime, to: datetime | None, by: timedelta | None) -> datetime:
    """Where a test clock moves from `now`: to `to`, or `by` further. It only moves
    forward, and by at most LONGEST_ADVANCE at a time."""
    if to is None:
        if by is None or by > LONGEST_ADVANCE:
            raise ValidationError(
                f"advance at most {LONGEST_ADVANCE.days} days at a time", field="by"
            )
        to = now + by
    if to <= now:
        raise ClockNotForwardError(
            f"the test clock is at {now.isoformat()}; it only moves forward",
            now=now.isoformat(),
        )
    if to - now > LONGEST_ADVANCE:
        raise ValidationError(f"advance at most {LONGEST_ADVANCE.days} days at a time", field="to")
    return to


def failure_reason(text: object) -> str:
    """The reason a pretend failure gives, as a rail would: 1 to 500 characters."""
    if not isinstance(text, str) or not text.strip() or len(text) > FAILURE_REASON_LENGTH:
        raise ValidationError(
            f"reason must be 1 to {FAILURE_REASON_LENGTH} characters", field="reason"
        )
    return text.strip()
