"""Search finds a dispute by words staff remember, on SQLite (FTS5) and PostgreSQL (tsvector)."""

import pytest
from arb_helpers import PASSWORD, arbitration_for, funded

from arbitration.search import search
from conftest import BUYER, PROVIDER


@pytest.fixture
def arb(tranche, tmp_path):
    return arbitration_for(tranche, tmp_path)


@pytest.fixture
def cases(tranche, arb):
    site = tranche.create_contract(
        buyer_id="alice-buyer",
        provider_id="bob-builds",
        currency="USD",
        agreed_amount=100_000,
        title="Website redesign for the bakery",
    )
    logo = tranche.create_contract(
        buyer_id=BUYER.id,
        provider_id=PROVIDER.id,
        currency="EUR",
        agreed_amount=50_000,
        title="Logo refresh",
    )
    first = arb.open(delivered(tranche, site), _actor("alice-buyer"), "Pages 404.")
    arb.statement(first.id, _actor("bob-builds"), "The staging server had every croissant photo.")
    arb.evidence(first.id, _actor("alice-buyer"), text="Screenshot shows a blank checkout page.")
    staff = arb.create_staff("rita@example.com", "reviewer", PASSWORD)
    arb.note(first.id, staff, "Confidential: the buyer sounded unreasonable.", "127.0.0.1")
    second = arb.open(funded(tranche, logo), PROVIDER, "Delivered the vector files, unpaid.")
    return first, second


def delivered(tranche, contract):
    milestone = tranche.add_milestone(contract.id, title="Pages", amount=25_000)
    tranche.fire(milestone.id, "fund", _actor(contract.buyer_id))
    tranche.fire(milestone.id, "submit", _actor(contract.provider_id))
    return milestone.id


def _actor(actor_id):
    from engine.domain.actors import Actor

    return Actor(actor_id)


def ids(arb, term):
    return [d.id for d in arb.read(lambda u: search(u, term))]


def test_words_match_titles_reasons_statements_and_text_evidence(arb, cases):
    first, second = cases
    assert ids(arb, "bakery") == [first.id]
    assert ids(arb, "redes") == [first.id]  # a word's start is enough
    assert ids(arb, "croissant") == [first.id]
    assert ids(arb, "blank checkout") == [first.id]
    assert ids(arb, "vector files") == [second.id]
    assert ids(arb, "Website vector") == []  # every word must match
    assert ids(arb, "unreasonable") == []  # staff notes are never indexed


def test_parties_and_the_start_of_any_id_match(arb, cases):
    first, second = cases
    assert ids(arb, "alice-buyer") == [first.id]
    assert ids(arb, "bob") == [first.id]
    assert ids(arb, first.id[:-8]) == [first.id]  # ids start with their time: more is needed
    assert ids(arb, second.contract_id) == [second.id]
    assert ids(arb, second.milestone_id[:-8]) == [second.id]


@pytest.mark.parametrize("term", ['"', "NEAR(a b", "a OR", "*", "x:* & !", "%_", "-", "  "])
def test_query_syntax_from_outside_is_never_interpreted(arb, cases, term):
    assert ids(arb, term) == []
