"""Policy and milestone drawings over HTTP: the right media type, the current state marked."""

from __future__ import annotations

from api.helpers import BUYER, Client
from conftest import needs_graphviz


@needs_graphviz
def test_a_policy_version_is_drawn_in_each_format(client: Client) -> None:
    svg = client.get("/v1/policies/fixed-price/2/diagram")
    assert svg.status_code == 200
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    assert b"refund_requested" in svg.data
    dot = client.get("/v1/policies/fixed-price/2/diagram?format=dot")
    assert (dot.status_code, dot.mimetype) == (200, "text/vnd.graphviz")
    assert dot.data.startswith(b"digraph")
    png = client.get("/v1/policies/fixed-price/2/diagram?format=png")
    assert (png.status_code, png.data[:4]) == (200, b"\x89PNG")


def test_bad_format_and_unknown_policy_are_problems(client: Client) -> None:
    bad = client.get("/v1/policies/fixed-price/2/diagram?format=gif")
    assert (bad.status_code, bad.mimetype) == (422, "application/problem+json")
    missing = client.get("/v1/policies/fixed-price/99/diagram")
    assert (missing.status_code, missing.json["code"]) == (404, "not_found")


def test_a_milestone_drawing_marks_its_state_and_respects_tenancy(
    client: Client, other: Client
) -> None:
    milestone = client.milestone(client.contract()["id"])
    client.post(f"/v1/milestones/{milestone['id']}/events/fund", actor=BUYER)
    proposed = client.get("/v1/policies/fixed-price/2/diagram?format=dot").data.decode()
    funded = client.get(f"/v1/milestones/{milestone['id']}/diagram?format=dot").data.decode()
    assert funded != proposed
    marked = [line for line in funded.splitlines() if "funded" in line and "fillcolor" in line]
    assert marked, funded
    assert other.get(f"/v1/milestones/{milestone['id']}/diagram").status_code == 404
