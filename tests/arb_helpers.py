"""Shared story pieces for arbitration tests: a funded milestone, staff, a settings object."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbitration.service import Arbitration
from arbitration.settings import Settings
from conftest import BUYER, PROVIDER

PASSWORD = "correct horse battery staple"


def arbitration_for(tranche, tmp_path: Path, threshold: int = 100_000) -> Arbitration:
    settings = Settings(
        evidence_dir=tmp_path / "evidence",
        two_person_thresholds={"USD": threshold},
        max_evidence_bytes=4096,
    )
    return Arbitration(tranche.database, tranche.clock, settings)


def funded(tranche, contract, amount: int = 25_000, submit: bool = True) -> str:
    milestone = tranche.add_milestone(contract.id, title="Disputed part", amount=amount)
    tranche.fire(milestone.id, "fund", BUYER)
    if submit:
        tranche.fire(milestone.id, "submit", PROVIDER)
    return milestone.id


@pytest.fixture
def arb(tranche, tmp_path):
    """Arbitration over the test's engine, with a two-person threshold of 200.00."""
    return arbitration_for(tranche, tmp_path, threshold=20_000)


@pytest.fixture
def people(arb):
    """A reviewer (rita) and two seniors (sam, sue)."""
    return (
        arb.create_staff("rita@example.com", "reviewer", PASSWORD),
        arb.create_staff("sam@example.com", "senior", PASSWORD),
        arb.create_staff("sue@example.com", "senior", PASSWORD),
    )
