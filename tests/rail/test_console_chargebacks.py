"""Staff see a disputed milestone's chargebacks on its case page."""

from console_helpers import make_app, make_staff, sign_in

from conftest import BUYER, PROVIDER
from engine.service.fundings import Charge


def test_the_case_page_shows_what_the_network_took_back(database, clock, tmp_path, contract):
    app = make_app(database, clock, tmp_path)
    tranche, arb = app.extensions["tranche"], app.extensions["arbitration"]
    milestone = tranche.add_milestone(contract.id, title="Disputed", amount=40_000)
    tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_77", 40_000, "USD"))
    tranche.fire(milestone.id, "submit", PROVIDER)
    case = arb.open(milestone.id, BUYER, "Not what we agreed.")
    client = sign_in(app.test_client(), make_staff(arb)["rita"].email)
    before = client.get(f"/console/disputes/{case.id}").get_data(as_text=True)
    assert 'id="chargebacks"' not in before
    tranche.report_chargeback(
        tenant="default",
        funding_reference="pi_77",
        reference="du_77",
        amount=15_000,
        currency="USD",
        reason="product_not_received",
    )
    page = client.get(f"/console/disputes/{case.id}").get_data(as_text=True)
    assert 'id="chargebacks"' in page
    assert "du_77" in page
    assert "product_not_received" in page
    assert "escrow 150.00 USD" in page
