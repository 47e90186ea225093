"""The ruling flow in the console: review the postings, confirm exactly what was shown,
never lose a case or a rationale to a stale page, keep what was typed on a refusal."""

import re
from datetime import timedelta

import pytest
from console_helpers import answered_dispute, field, make_app, make_staff, post_form, sign_in

from arbitration import views
from engine.domain.decision import PENDING_APPROVAL, RULED, UNDER_REVIEW


@pytest.fixture
def app(database, clock, tmp_path):
    return make_app(database, clock, tmp_path)


@pytest.fixture
def arb(app):
    return app.extensions["arbitration"]


@pytest.fixture
def staff(arb):
    return make_staff(arb)


def case_of(arb, dispute_id):
    return arb.read(lambda u: views.case(u, dispute_id))


def claimed(app, contract, staff, amount):
    """A 250.00 USD (or `amount`) dispute, answered, claimed by rita; rita's client."""
    dispute = answered_dispute(app, contract, amount)
    rita = sign_in(app.test_client(), "rita@example.com")
    page = f"/console/disputes/{dispute.id}"
    assert post_form(rita, f"{page}/claim", page).status_code == 302
    return dispute, rita, page


def preview(client, page, **typed):
    return post_form(client, f"{page}/rule/preview", page, **typed)


def test_the_preview_shows_each_party_the_fee_and_the_net_and_moves_nothing(
    app, arb, staff, contract
):
    dispute, rita, page = claimed(app, contract, staff, 25_000)
    shown = preview(rita, page, to_provider="150.00", to_buyer="100.00", rationale="Partly done.")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert "150.00 USD to provider-1 (7.50 USD fee, nets 142.50 USD), 100.00 USD to buyer-1" in html
    assert "Confirm ruling" in html
    assert case_of(arb, dispute.id).milestone.state == "disputed"  # nothing moved yet
    assert case_of(arb, dispute.id).rulings == []


def test_confirm_commits_the_split_that_was_shown_whatever_the_form_says(app, arb, staff, contract):
    dispute, rita, page = claimed(app, contract, staff, 25_000)
    html = preview(
        rita, page, to_provider="150.00", to_buyer="100.00", rationale="Partly done."
    ).get_data(as_text=True)
    signed = field(html, "token")
    tampered = signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB")
    refused = rita.post(
        f"{page}/rule", data={"csrf_token": field(html, "csrf_token"), "token": tampered}
    )
    assert refused.status_code == 422
    assert "expired or was altered" in refused.get_data(as_text=True)
    assert case_of(arb, dispute.id).rulings == []
    done = rita.post(
        f"{page}/rule",
        data={
            "csrf_token": field(html, "csrf_token"),
            "token": signed,
            "to_provider": "250.00",  # not what was shown: ignored
            "to_buyer": "0.00",
        },
    )
    assert done.status_code == 302
    ruling = case_of(arb, dispute.id).rulings[0]
    assert (ruling.to_provider, ruling.to_buyer, ruling.status) == (15_000, 10_000, "applied")
    summary = app.extensions["tranche"].summary(dispute.contract_id)
    assert (summary.fees, summary.refunded) == (750, 10_000)


def test_a_confirmation_is_refused_once_the_case_has_moved_on(app, arb, staff, contract, clock):
    dispute, rita, page = claimed(app, contract, staff, 25_000)
    html = preview(
        rita, page, to_provider="150.00", to_buyer="100.00", rationale="Partly done."
    ).get_data(as_text=True)
    clock.advance(timedelta(minutes=2))
    arb.statement(dispute.id, contract_buyer(contract), "One more thing: page 4 is blank.")
    refused = rita.post(
        f"{page}/rule",
        data={"csrf_token": field(html, "csrf_token"), "token": field(html, "token")},
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "the buyer added a statement at 09:02 UTC" in text
    assert "Partly done." in text  # the rationale is still in the form
    assert case_of(arb, dispute.id).rulings == []


def contract_buyer(contract):
    from engine.domain.actors import Actor

    return Actor(contract.buyer_id)


def test_a_refused_ruling_keeps_the_form_and_speaks_in_major_units_beside_it(
    app, arb, staff, contract
):
    dispute, rita, page = claimed(app, contract, staff, 25_000)
    response = preview(
        rita, page, to_provider="150.00", to_buyer="50.00", rationale="My careful rationale."
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    message = re.search(r'id="ruling-error">([^<]*)<', html).group(1)
    assert message == (
        "The two amounts must add up to the 250.00 USD in escrow: 150.00 USD to the provider "
        "+ 50.00 USD to the buyer = 200.00 USD."
    )
    assert html.index('id="ruling"') < html.index('id="ruling-error"') < html.index("Timeline")
    assert ">My careful rationale.</textarea>" in html
    assert re.search(r'id="to_provider" name="to_provider"[^>]* value="150.00"', html)


def test_a_stale_claim_names_who_took_the_case_and_take_over_is_explicit(app, arb, staff, contract):
    dispute = answered_dispute(app, contract, 25_000)
    page = f"/console/disputes/{dispute.id}"
    sam = sign_in(app.test_client(), "sam@example.com")
    stale = sam.get(page).get_data(as_text=True)  # loaded before rita claims
    rita = sign_in(app.test_client(), "rita@example.com")
    assert post_form(rita, f"{page}/claim", page).status_code == 302
    response = sam.post(
        f"{page}/claim",
        data={"csrf_token": field(stale, "csrf_token"), "version": field(stale, "version")},
        follow_redirects=True,
    )
    assert "taken by rita@example.com at 09:00 UTC" in response.get_data(as_text=True)
    assert case_of(arb, dispute.id).dispute.assignee_id == staff["rita"].id
    fresh = sam.get(page).get_data(as_text=True)
    assert "Take over from rita@example.com" in fresh
    without_naming = sam.post(
        f"{page}/claim",
        data={"csrf_token": field(fresh, "csrf_token"), "version": field(fresh, "version")},
        follow_redirects=True,
    )
    assert "take it over explicitly" in without_naming.get_data(as_text=True)
    assert case_of(arb, dispute.id).dispute.assignee_id == staff["rita"].id
    taken = post_form(sam, f"{page}/claim", page, take_over_from=staff["rita"].id)
    assert taken.status_code == 302
    assert case_of(arb, dispute.id).dispute.assignee_id == staff["sam"].id


def test_a_form_without_a_case_version_changes_nothing(app, arb, staff, contract):
    dispute = answered_dispute(app, contract, 25_000)
    page = f"/console/disputes/{dispute.id}"
    rita = sign_in(app.test_client(), "rita@example.com")
    html = rita.get(page).get_data(as_text=True)
    response = rita.post(
        f"{page}/claim", data={"csrf_token": field(html, "csrf_token")}, follow_redirects=True
    )
    assert "out of date" in response.get_data(as_text=True)
    assert case_of(arb, dispute.id).dispute.assignee_id is None


def test_approval_is_previewed_then_confirmed_by_another_senior(app, arb, staff, contract):
    dispute, rita, page = claimed(app, contract, staff, 50_000)
    html = preview(
        rita, page, to_provider="300.00", to_buyer="200.00", rationale="Most pages."
    ).get_data(as_text=True)
    assert "a senior approves this ruling before the money moves" in html
    rita.post(
        f"{page}/rule",
        data={"csrf_token": field(html, "csrf_token"), "token": field(html, "token")},
    )
    found = case_of(arb, dispute.id)
    assert found.dispute.status == PENDING_APPROVAL
    ruling = found.pending
    sam = sign_in(app.test_client(), "sam@example.com")
    shown = post_form(
        sam, f"/console/rulings/{ruling.id}/approve/preview", page, dispute_id=dispute.id
    ).get_data(as_text=True)
    assert (
        "300.00 USD to provider-1 (15.00 USD fee, nets 285.00 USD), 200.00 USD to buyer-1" in shown
    )
    assert case_of(arb, dispute.id).dispute.status == PENDING_APPROVAL  # one click moved nothing
    # Rita cannot use a senior's approval token, nor approve at all.
    assert (
        post_form(
            rita, f"/console/rulings/{ruling.id}/approve", page, token=field(shown, "token")
        ).status_code
        == 403
    )
    done = sam.post(
        f"/console/rulings/{ruling.id}/approve",
        data={"csrf_token": field(shown, "csrf_token"), "token": field(shown, "token")},
    )
    assert done.status_code == 302
    assert case_of(arb, dispute.id).dispute.status == RULED
    summary = app.extensions["tranche"].summary(dispute.contract_id)
    assert (summary.fees, summary.refunded) == (1_500, 20_000)
    missing = post_form(sam, "/console/rulings/rl_nope/approve/preview", page)
    assert missing.status_code == 404


def test_a_sent_back_ruling_refills_its_authors_form_under_the_seniors_reason(
    app, arb, staff, contract
):
    dispute, rita, page = claimed(app, contract, staff, 50_000)
    html = preview(
        rita, page, to_provider="300.00", to_buyer="200.00", rationale="Most pages."
    ).get_data(as_text=True)
    rita.post(
        f"{page}/rule",
        data={"csrf_token": field(html, "csrf_token"), "token": field(html, "token")},
    )
    ruling = case_of(arb, dispute.id).pending
    sam = sign_in(app.test_client(), "sam@example.com")
    post_form(
        sam,
        f"/console/rulings/{ruling.id}/decline",
        page,
        note="Page 4 was never delivered: 250 at most.",
        dispute_id=dispute.id,
    )
    assert case_of(arb, dispute.id).dispute.status == UNDER_REVIEW
    mine = rita.get(page).get_data(as_text=True)
    notice = mine[mine.index('id="sent-back"') : mine.index("</div>", mine.index('id="sent-back"'))]
    assert "Sent back by sam@example.com" in notice
    assert "Page 4 was never delivered: 250 at most." in notice
    assert re.search(r'name="to_provider"[^>]* value="300.00"', mine)
    assert re.search(r'name="to_buyer"[^>]* value="200.00"', mine)
    assert ">Most pages.</textarea>" in mine


def test_the_quick_splits_work_without_javascript(app, arb, staff, contract):
    dispute, rita, page = claimed(app, contract, staff, 25_000)
    first = preview(rita, page, share="50", rationale="")
    html = first.get_data(as_text=True)
    assert first.status_code == 422  # no rationale yet: the split is kept, the reason asked
    assert "Write the rationale" in html
    assert 'value="125.00"' in html
    blank_buyer = preview(rita, page, to_provider="100.00", to_buyer="", rationale="Some done.")
    assert "100.00 USD to provider-1 (5.00 USD fee, nets 95.00 USD), 150.00 USD to buyer-1" in (
        blank_buyer.get_data(as_text=True)
    )


def test_the_case_page_tells_each_thing_once_and_puts_the_form_first(app, arb, staff, contract):
    from console_browser import tiny_png

    from arbitration.evidence import Upload
    from conftest import PROVIDER

    dispute, rita, page = claimed(app, contract, staff, 25_000)
    arb.statement(dispute.id, PROVIDER, "Long story. " * 100)
    arb.evidence(dispute.id, PROVIDER, upload=Upload("home.png", "image/png", tiny_png()))
    html = rita.get(page).get_data(as_text=True)
    assert html.count("Half of the pages are missing.") == 1  # the claim, not again as an event
    assert html.index('id="ruling"') < html.index("Timeline")
    long = html[html.index('<details class="long-text">') :]
    assert "Show all (1199 characters)" in long[: long.index("</summary>")]
    assert re.search(
        r'<img class="thumb" src="/console/evidence/\d+/file" alt="Evidence image', html
    )

    shown = preview(rita, page, to_provider="250.00", to_buyer="0.00", rationale="All there.")
    rita.post(
        f"{page}/rule",
        data={
            "csrf_token": field(shown.get_data(as_text=True), "csrf_token"),
            "token": field(shown.get_data(as_text=True), "token"),
        },
    )
    decided = rita.get(page).get_data(as_text=True)
    head = decided[decided.index('id="outcome-head"') : decided.index("The claim")]
    assert "Ruled:</strong>" in head
    assert "250.00 USD to the provider, 0.00 USD to the buyer." in head
    timeline = decided[decided.index("Timeline") : decided.index("Milestone state")]
    assert "<strong>rule</strong>" not in timeline  # the ruling is not told again as an event
    assert decided.count("Ruling: 250.00 USD to the provider") == 1
