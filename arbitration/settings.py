"""Arbitration's knobs, set by the deployment (the app config), not by the policy.

The policy says how long a party has to answer and what silence means; the
platform says where files live, how large they may be, how much evidence a case
and a tenant may hold, and above which amount a ruling needs a second staff member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ACCEPTED_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")
EVIDENCE_PER_DISPUTE = (100, 100 * 1024 * 1024)
"""Items of evidence (texts and files), and bytes of files, one dispute may hold."""
EVIDENCE_PER_TENANT = (100_000, 20 * 1024**3)
"""The same over all the disputes of one tenant (an API key's contracts)."""


@dataclass(frozen=True, slots=True)
class Settings:
    evidence_dir: Path = Path("evidence")
    max_evidence_bytes: int = 10 * 1024 * 1024
    evidence_per_dispute: tuple[int, int] = EVIDENCE_PER_DISPUTE
    evidence_per_tenant: tuple[int, int] = EVIDENCE_PER_TENANT
    accepted_types: tuple[str, ...] = ACCEPTED_TYPES
    two_person_threshold: int = 100_000
    """Rulings over this escrow (minor units) wait for a second staff member's approval."""
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
