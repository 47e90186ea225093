"""Arbitration's knobs, set by the deployment (the app config), not by the policy.

The policy says how long a party has to answer and what silence means; the
platform says where files live, how large they may be, how much evidence a case
and a tenant may hold, and above which amount a ruling needs a second staff member:
one threshold per currency, because 1,000 of one currency's minor units is ten
dollars and 1,000 of another's is seven.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from engine.domain.errors import TrancheError, ValidationError
from engine.domain.money import Money, check_currency

ACCEPTED_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")
EVIDENCE_PER_DISPUTE = (100, 100 * 1024 * 1024)
"""Items of evidence (texts and files), and bytes of files, one dispute may hold."""
EVIDENCE_PER_TENANT = (100_000, 20 * 1024**3)
"""The same over all the disputes of one tenant (an API key's contracts)."""


DEFAULT_THRESHOLDS = "USD=1000.00,EUR=1000.00,GBP=1000.00,JPY=150000"


def parse_thresholds(text: str) -> dict[str, int]:
    """`USD=1000.00,JPY=150000` (major units, each in its currency's decimals) to minor units."""
    found: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        code, sep, amount = item.partition("=")
        try:
            if not sep:
                raise ValidationError("expected CURRENCY=AMOUNT")
            currency = check_currency(code.strip().upper())
            minor = Money.parse(amount.strip(), currency).minor
            if minor < 0:
                raise ValidationError("a threshold is an amount >= 0")
            found[currency] = minor
        except TrancheError as exc:
            raise ValidationError(
                f"two-person threshold {item!r}: {exc.message}", field="TWO_PERSON_THRESHOLDS"
            ) from None
    return found


@dataclass(frozen=True, slots=True)
class Settings:
    evidence_dir: Path = Path("evidence")
    max_evidence_bytes: int = 10 * 1024 * 1024
    evidence_per_dispute: tuple[int, int] = EVIDENCE_PER_DISPUTE
    evidence_per_tenant: tuple[int, int] = EVIDENCE_PER_TENANT
    accepted_types: tuple[str, ...] = ACCEPTED_TYPES
    two_person_thresholds: Mapping[str, int] = field(
        default_factory=lambda: parse_thresholds(DEFAULT_THRESHOLDS)
    )
    """Per currency, in minor units: a ruling over this escrow waits for a second staff
    member's approval. A currency not listed has no threshold: every ruling waits."""
    review_sla: timedelta = field(default=timedelta(days=3))
    """Once a case is with staff, the queue shows it as due this long after."""
    # Sign-in throttling (arbitration.throttle): free failures per address and per
    # account, then a block that doubles from `backoff_base` with each further failure.
    address_free_failures: int = 5
    account_free_failures: int = 10
    backoff_base: timedelta = field(default=timedelta(minutes=1))
    address_backoff_cap: timedelta = field(default=timedelta(hours=24))
    account_backoff_cap: timedelta = field(default=timedelta(minutes=15))
    forget_failures_after: timedelta = field(default=timedelta(hours=24))

    def threshold(self, currency: str) -> int:
        return self.two_person_thresholds.get(currency, 0)

    def needs_second(self, escrow: int, currency: str) -> bool:
        return escrow > self.threshold(currency)
