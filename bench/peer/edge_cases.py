"""Edge cases Tranche and its Django peer must answer alike: requests and what each answers.

Each case runs on a fresh contract with one proposed milestone of 10,000 (agreed 10,000)
between a buyer and a provider (plus a stranger), named anew per run. A call expects a
status, for a refusal its problem `type` (urn:tranche:problem:<code>), and the fields that
tell refusals (or answers) apart: `allowed_events`, the fields named in `errors`,
`milestone_index`; a milestone's `state` and `version`. A replay must repeat an earlier
answer byte for byte. The table is Tranche's answers: tests/test_peer_edge_cases.py keeps
them true of Tranche, and bench/peer_django.py runs them against both servers before it
times anything, stopping on any difference.

Standard library only: the benchmark's runner, the test and the peer's virtualenv all read it.
"""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CONTRACTS = "/v1/contracts"
NO_MILESTONE = "ms_01a21f0000000000000000000000"


@dataclass(frozen=True)
class Raw:
    """A body sent as these bytes, not as JSON."""

    data: bytes


@dataclass(frozen=True)
class Call:
    """One request: a milestone event (`event`) or a POST to `path`, and what it answers."""

    status: int
    problem: str | None = None
    event: str | None = None
    path: str | None = None
    actor: str | None = None  # buyer, provider or stranger (named per run), or None
    body: Any = field(default_factory=dict)
    key: str = "valid"  # valid, other (another tenant's), unknown, none
    idempotency: str | None = None  # a name: the same name in a case sends the same key
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    milestone: str | None = None  # another milestone id than the case's own
    expect: tuple[tuple[str, Any], ...] = ()  # distinguishing fields of the answer
    replays: int | None = None  # the index of an earlier call this one repeats exactly


@dataclass(frozen=True)
class Case:
    name: str
    calls: tuple[Call, ...]


def contract(**changes: Any) -> dict[str, Any]:
    """A contract body between the case's buyer and provider, with one milestone."""
    body = {
        "buyer_id": "{buyer}",
        "provider_id": "{provider}",
        "currency": "USD",
        "agreed_amount": 10_000,
        "title": "edge",
        "milestones": [{"title": "m", "amount": 10_000}],
    }
    return body | changes


def ok(event: str, actor: str, state: str, version: int, **kw: Any) -> Call:
    return Call(
        200, event=event, actor=actor, expect=(("state", state), ("version", version)), **kw
    )


def refused(status: int, problem: str, event: str = "fund", actor: str | None = "buyer", **kw):
    return Call(status, problem, event=event, actor=actor, **kw)


def allowed(*events: str) -> tuple[tuple[str, Any], ...]:
    return (("allowed_events", list(events)),)


def errors(*names: str) -> tuple[tuple[str, Any], ...]:
    return (("errors", sorted(names)),)


FUNDED = ("release", "approve", "request_refund", "dispute")
CASES = (
    Case("a stranger funds: 403", (refused(403, "not_a_party", actor="stranger"),)),
    Case("unknown milestone: 404", (refused(404, "not_found", milestone=NO_MILESTONE),)),
    Case("another tenant's milestone: 404", (refused(404, "not_found", key="other"),)),
    Case("no API key: 401", (refused(401, "unauthorized", key="none"),)),
    Case("unknown API key: 401", (refused(401, "unauthorized", key="unknown"),)),
    Case(
        "fund twice: 409",
        (
            ok("fund", "buyer", "funded", 2),
            refused(409, "forbidden_event", expect=allowed(*FUNDED)),
        ),
    ),
    Case(
        "submit before fund: 409",
        (refused(409, "forbidden_event", "submit", "provider", expect=allowed("cancel")),),
    ),
    Case(
        "the provider approves: 409 (a party, not allowed this event)",
        (
            ok("fund", "buyer", "funded", 2),
            refused(
                409,
                "forbidden_event",
                "approve",
                "provider",
                expect=allowed("submit", "refund", "dispute"),
            ),
        ),
    ),
    Case(
        "idempotent replay: the same answer, funded once",
        (
            ok("fund", "buyer", "funded", 2, idempotency="k"),
            ok("fund", "buyer", "funded", 2, idempotency="k", replays=0),
            ok("submit", "provider", "submitted", 3),
        ),
    ),
    Case(
        "the same key with another body: 422",
        (
            ok("fund", "buyer", "funded", 2, idempotency="k"),
            refused(422, "idempotency_mismatch", idempotency="k", body={"note": "again"}),
        ),
    ),
    Case(
        "the same key for another event: 422, and it did nothing",
        (
            ok("fund", "buyer", "funded", 2, idempotency="k"),
            refused(422, "idempotency_mismatch", "submit", "provider", idempotency="k"),
            ok("submit", "provider", "submitted", 3),
        ),
    ),
    Case(
        "a refusal is not stored: the key is judged afresh",
        (
            refused(403, "not_a_party", actor="stranger", idempotency="k"),
            ok("fund", "buyer", "funded", 2, idempotency="k"),
        ),
    ),
    Case("bad JSON: 400", (refused(400, "malformed_request", body=Raw(b"{not json")),)),
    Case(
        "bad JSON and no key: 401 (the key first)",
        (refused(401, "unauthorized", body=Raw(b"{not json"), key="none"),),
    ),
    Case(
        "a body that is not JSON: 415",
        (refused(415, "unsupported_media_type", body=Raw(b"{}"), content_type="text/plain"),),
    ),
    Case(
        "an unknown field: 422",
        (refused(422, "validation", body={"colour": "red"}, expect=errors("colour")),),
    ),
    Case(
        "a fractional event amount: 422",
        (refused(422, "validation", body={"amount": 1.5}, expect=errors("amount")),),
    ),
    Case(
        "no Tranche-Actor: 422",
        (refused(422, "validation", actor=None, expect=errors("Tranche-Actor")),),
    ),
    Case("an event the policy lacks: 404", (refused(404, "unknown_event", "frobnicate"),)),
    Case(
        "Idempotency-Key longer than 255: 422",
        (
            refused(
                422,
                "validation",
                headers=(("Idempotency-Key", "k" * 256),),
                expect=errors("Idempotency-Key"),
            ),
        ),
    ),
    Case(
        "a stale If-Match: 412",
        (
            ok("fund", "buyer", "funded", 2),
            refused(
                412, "precondition_failed", "submit", "provider", headers=(("If-Match", '"1"'),)
            ),
        ),
    ),
    Case(
        "the lifecycle, then approve again: 409",
        (
            ok("fund", "buyer", "funded", 2),
            ok("submit", "provider", "submitted", 3),
            ok("approve", "buyer", "approved", 4, headers=(("If-Match", '"3"'),)),
            refused(409, "forbidden_event", "approve", expect=allowed()),
        ),
    ),
    Case(
        "approve straight from funded: 200, a 5% fee",
        (
            ok("fund", "buyer", "funded", 2),
            Call(200, event="approve", actor="buyer", expect=(("fees", 500), ("in_escrow", 0))),
        ),
    ),
    Case(
        "create: a negative agreed amount: 422",
        (
            Call(
                422,
                "validation",
                path=CONTRACTS,
                body=contract(agreed_amount=-5),
                expect=errors("agreed_amount"),
            ),
        ),
    ),
    Case(
        "create: an agreed amount as a string: 422",
        (
            Call(
                422,
                "validation",
                path=CONTRACTS,
                body=contract(agreed_amount="10000"),
                expect=errors("agreed_amount"),
            ),
        ),
    ),
    Case(
        "create: a fractional agreed amount: 422",
        (
            Call(
                422,
                "validation",
                path=CONTRACTS,
                body=contract(agreed_amount=100.5),
                expect=errors("agreed_amount"),
            ),
        ),
    ),
    Case(
        "create: a negative milestone amount: 422",
        (
            Call(
                422,
                "validation",
                path=CONTRACTS,
                body=contract(milestones=[{"title": "m", "amount": -1}]),
                expect=errors("milestones"),
            ),
        ),
    ),
    Case(
        "create: milestones beyond the agreed amount: 422, naming the milestone",
        (
            Call(
                422,
                "exceeds_agreed",
                path=CONTRACTS,
                body=contract(milestones=[{"title": "a", "amount": 5000}] * 3),
                expect=(("milestone_index", 2),),
            ),
        ),
    ),
    Case(
        "create: the buyer is the provider: 422",
        (Call(422, "validation", path=CONTRACTS, body=contract(provider_id="{buyer}")),),
    ),
    Case(
        "create: a stranger names itself the actor: 403",
        (Call(403, "not_a_party", path=CONTRACTS, body=contract(), actor="stranger"),),
    ),
    Case(
        "create: bad JSON: 400", (Call(400, "malformed_request", path=CONTRACTS, body=Raw(b"{")),)
    ),
)

Send = Callable[[str, dict[str, str], bytes | None], tuple[int, dict[str, str], bytes]]
"""POST `path` with these headers and body: the status, the headers (lower-case names),
the body."""


@dataclass(frozen=True)
class Seen:
    """What one call answered, reduced to what the table compares."""

    status: int
    problem: str | None
    fields: tuple[tuple[str, Any], ...]
    replayed: bool | None  # for a replay: whether it repeated the earlier answer exactly

    def __str__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.fields)
        replay = "" if self.replayed is None else f", replayed={self.replayed}"
        return f"{self.status} {self.problem or ''} {fields}{replay}".replace("  ", " ")


def expected(call: Call) -> Seen:
    return Seen(call.status, call.problem, call.expect, None if call.replays is None else True)


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names) if value.startswith("{") else value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def _fields(call: Call, answer: Any) -> tuple[tuple[str, Any], ...]:
    """The answer's values of the fields the call expects (errors: the names it lists)."""
    found = []
    for name, _ in call.expect:
        value = answer.get(name) if isinstance(answer, dict) else None
        if value is None and isinstance(answer, dict) and name in ("fees", "in_escrow"):
            value = answer.get("summary", {}).get(name)
        if name == "errors" and isinstance(value, dict):
            value = sorted(value)
        found.append((name, value))
    return tuple(found)


def run_case(case: Case, send: Send, keys: dict[str, str]) -> list[Seen]:
    """Run one case on a fresh contract; what each of its calls answered."""
    run = secrets.token_hex(4)
    names = {who: f"{who}-{run}" for who in ("buyer", "provider", "stranger")}
    keys = keys | {"unknown": "tr_0000000000000000_unknown", "none": ""}

    def post(path: str, body: Any, key: str, headers: dict[str, str], media: str) -> tuple:
        sent = dict(headers)
        if keys[key]:
            sent["Authorization"] = f"Bearer {keys[key]}"
        data = body.data if isinstance(body, Raw) else json.dumps(_fill(body, names)).encode()
        sent["Content-Type"] = media
        return send(path, sent, data)

    milestone = None
    if any(call.event for call in case.calls):
        status, _, data = post(CONTRACTS, contract(), "valid", {}, "application/json")
        assert status == 201, data
        milestone = json.loads(data)["milestones"][0]["id"]
    seen: list[Seen] = []
    answers: list[tuple[int, bytes]] = []
    for call in case.calls:
        headers = dict(call.headers)
        if call.actor:
            headers["Tranche-Actor"] = names[call.actor]
        if call.idempotency:
            headers["Idempotency-Key"] = f"{call.idempotency}-{run}"
        path = call.path or f"/v1/milestones/{call.milestone or milestone}/events/{call.event}"
        status, got, data = post(path, call.body, call.key, headers, call.content_type)
        answers.append((status, data))
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        problem = None
        if got.get("content-type", "").startswith("application/problem+json"):
            problem = str(answer.get("type", "")).removeprefix("urn:tranche:problem:")
        replayed = None if call.replays is None else answers[call.replays] == (status, data)
        seen.append(Seen(status, problem, _fields(call, answer), replayed))
    return seen


def run_all(send: Send, keys: dict[str, str]) -> dict[str, list[Seen]]:
    """Every case; `keys`: "valid" and "other", the API keys of two tenants."""
    return {case.name: run_case(case, send, keys) for case in CASES}


def differences(results: dict[str, dict[str, list[Seen]]]) -> list[str]:
    """Lines naming each call where a server's answer differs from the table; `results`
    maps a server's name to what `run_all` returned for it."""
    lines = []
    for case in CASES:
        for index, call in enumerate(case.calls):
            want = expected(call)
            got = {server: seen[case.name][index] for server, seen in results.items()}
            if any(seen != want for seen in got.values()):
                lines.append(f"{case.name}, call {index + 1}:")
                lines.append(f"    {'expected':<16} {want}")
                lines += [f"    {server:<16} {seen}" for server, seen in got.items()]
    return lines


def http_sender(port: int, host: str = "127.0.0.1") -> Send:
    """A Send over HTTP to a server on `host`:`port`."""

    def send(path: str, headers: dict[str, str], body: bytes | None) -> tuple:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            got = {name.lower(): value for name, value in response.getheaders()}
            return response.status, got, response.read()
        finally:
            connection.close()

    return send
