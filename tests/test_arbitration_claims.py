"""Claims and rulings name the case version they were made on; thresholds are per currency."""

import threading

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded

from arbitration.errors import StaleCaseError
from arbitration.settings import Settings, parse_thresholds
from conftest import BUYER, PROVIDER
from engine.domain.decision import PENDING_APPROVAL, RULED
from engine.domain.errors import ValidationError


def answered(tranche, arb, contract, amount=10_000):
    dispute = arb.open(funded(tranche, contract, amount=amount), BUYER, "Not delivered.")
    arb.statement(dispute.id, PROVIDER, "It was.")
    return arb.read(lambda u: u.session.get(type(dispute), dispute.id))


def test_a_ruling_on_an_old_version_is_refused_with_what_changed(tranche, contract, arb, people):
    rita, sam, _ = people
    dispute = answered(tranche, arb, contract)
    seen = dispute.version
    arb.claim(dispute.id, rita, "10.0.0.1", expected_version=seen)
    with pytest.raises(StaleCaseError, match="taken by rita@example.com at 09:00 UTC") as refused:
        arb.rule(dispute.id, rita, 0, 10_000, "Nothing.", "10.0.0.1", expected_version=seen)
    assert refused.value.fields["current_version"] == seen + 1
    case = arb.party_view(dispute.id, BUYER)
    assert (case["status"], case["rulings"]) == ("under_review", [])
    with pytest.raises(StaleCaseError, match="take it over explicitly"):
        arb.claim(dispute.id, sam, "10.0.0.2", expected_version=seen + 1)
    arb.claim(dispute.id, sam, "10.0.0.2", expected_version=seen + 1, take_over_from=rita.id)
    arb.rule(dispute.id, sam, 0, 10_000, "Nothing.", "10.0.0.2", expected_version=seen + 2)
    assert arb.party_view(dispute.id, BUYER)["status"] == RULED


@pytest.mark.postgres
def test_two_seniors_claiming_at_once_leave_exactly_one_owner(postgres_database, clock, tmp_path):
    from engine.service.tranche import Tranche

    tranche = Tranche(postgres_database, clock)
    arb = arbitration_for(tranche, tmp_path)
    sam = arb.create_staff("sam@example.com", "senior", PASSWORD)
    sue = arb.create_staff("sue@example.com", "senior", PASSWORD)
    contract = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="USD",
        agreed_amount=100_000,
        title="Race",
    )
    dispute = answered(tranche, arb, contract)
    start = threading.Barrier(2)
    results: dict[str, str] = {}

    def take(who):
        start.wait()
        try:
            arb.claim(dispute.id, who, "10.0.0.9", expected_version=dispute.version)
            results[who.email] = "won"
        except StaleCaseError as exc:
            results[who.email] = exc.fields["change"]

    threads = [threading.Thread(target=take, args=(who,)) for who in (sam, sue)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [email for email, outcome in results.items() if outcome == "won"]
    assert len(winners) == 1
    loser = next(email for email in results if email not in winners)
    assert results[loser].startswith(f"taken by {winners[0]}")
    owner = arb.read(lambda u: u.session.get(type(dispute), dispute.id).assignee_id)
    assert owner == (sam if winners[0] == sam.email else sue).id


def test_thresholds_are_read_per_currency_in_major_units():
    assert parse_thresholds("USD=1000.00, JPY=150000,EUR=999.5") == {
        "USD": 100_000,
        "JPY": 150_000,
        "EUR": 99_950,
    }
    for bad in ("USD", "XXX=1", "USD=1.001", "JPY=1.5", "USD=-5", "USD=ten"):
        with pytest.raises(ValidationError, match="two-person threshold"):
            parse_thresholds(bad)


def test_the_two_person_rule_compares_within_a_currency(tranche, tmp_path, people):
    settings = Settings(
        evidence_dir=tmp_path / "evidence",
        two_person_thresholds=parse_thresholds("USD=1000.00,JPY=150000"),
    )
    from arbitration.service import Arbitration

    arb = Arbitration(tranche.database, tranche.clock, settings)
    sam = people[1]
    outcomes = {}
    for currency, amount in (("JPY", 120_000), ("USD", 120_000), ("EUR", 100)):
        contract = tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency=currency,
            agreed_amount=amount,
            title=currency,
        )
        dispute = answered(tranche, arb, contract, amount=amount)
        arb.claim(dispute.id, sam, "10.0.0.2")
        arb.rule(dispute.id, sam, amount, 0, "Delivered.", "10.0.0.2")
        outcomes[currency] = arb.party_view(dispute.id, BUYER)["status"]
    # 120,000 yen is under its threshold; 1,200.00 dollars is over; EUR has none: always two.
    assert outcomes == {"JPY": RULED, "USD": PENDING_APPROVAL, "EUR": PENDING_APPROVAL}
