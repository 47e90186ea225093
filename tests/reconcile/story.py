"""A tenant's rail records and a Stripe report of them with one planted difference of each
kind: the shared material of the reconciliation tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rail.conftest import released

from conftest import BUYER, PROVIDER
from engine.service.fundings import Charge
from engine.service.tranche import Tranche

HEADER = (
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,"
    "source_id,payment_intent_id,charge_id,description"
)
LINES = (
    "txn_1,2026-11-24 08:00:00,usd,250.00,7.55,242.45,charge,ch_1,pi_1,ch_1,logo",
    "txn_2,2026-11-24 09:00:00,usd,300.01,8.70,291.31,charge,ch_2,pi_2,ch_2,site",
    "txn_3,2026-11-24 10:00:00,usd,-237.50,0.00,-237.50,transfer,tr_1,,,pay bob",
    "txn_4,2026-11-24 11:00:00,usd,100.00,3.20,96.80,charge,ch_4,pi_4,ch_4,pending",
    "txn_5,2026-11-24 12:00:00,usd,50.00,1.75,48.25,charge,ch_9,pi_9,ch_9,unknown",
    "txn_6,2026-11-24 13:00:00,usd,-300.00,15.00,-315.00,dispute,du_1,pi_2,ch_2,dispute",
    "txn_7,2026-11-24 14:00:00,usd,-2.00,0.00,-2.00,fee,,,,Connect fee",
    "txn_8,2026-11-24 15:00:00,usd,100.00,3.20,96.80,charge,ch_5,pi_5,ch_5,euro work",
)
"""Line 2 (the first after the header) matches pi_1 by its PaymentIntent; 3 says 300.01
for pi_2's 300.00; 4 matches the payout tr_1; 5 charged pi_4, still pending in Tranche;
6 is a charge Tranche never heard of; 7 is the chargeback du_1; 8 is Stripe's own fee;
9 is in USD where pi_5 was charged in EUR. pi_3 (funded) is not in the report at all."""


def report(tmp_path: Path, lines: tuple[str, ...] = LINES, name: str = "report.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join((HEADER, *lines)) + "\n")
    return path


@dataclass
class Story:
    contract_id: str
    milestones: list[str]
    euro_contract_id: str


def story(tranche: Tranche, tenant: str = "default") -> Story:
    """The records of `tenant` the report speaks of (and one of another tenant)."""

    def contract(currency: str, tenant: str = tenant) -> str:
        return tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency=currency,
            agreed_amount=100_000,
            title="Work",
            tenant=tenant,
        ).id

    usd = contract("USD")
    ids = [
        tranche.add_milestone(usd, title=f"M{n}", amount=a).id
        for n, a in enumerate((25_000, 30_000, 20_000, 10_000))
    ]
    released(tranche, ids[0], "pi_1")
    payout = tranche.record_payout(
        tenant=tenant,
        contract_id=usd,
        party_id=PROVIDER.id,
        amount=23_750,
        currency="USD",
        reference="tr_1",
    )
    tranche.settle_payout(payout.id, True)
    tranche.fund_confirmed(ids[1], "fund", BUYER, Charge("pi_2", 30_000, "USD"))
    tranche.fund_confirmed(ids[2], "fund", BUYER, Charge("pi_3", 20_000, "USD"))
    tranche.open_funding(ids[3], "fund", BUYER, reference="pi_4")
    tranche.report_chargeback(
        tenant=tenant, funding_reference="pi_2", reference="du_1", amount=30_000, currency="USD"
    )
    eur = contract("EUR")
    euro_milestone = tranche.add_milestone(eur, title="Euro", amount=10_000).id
    tranche.fund_confirmed(euro_milestone, "fund", BUYER, Charge("pi_5", 10_000, "EUR"))
    # Another tenant's charge under the reference the report has and ours lacks.
    theirs = tranche.add_milestone(contract("USD", tenant="other"), title="T", amount=5_000)
    tranche.fund_confirmed(theirs.id, "fund", BUYER, Charge("pi_9", 5_000, "USD"))
    return Story(usd, ids, eur)
