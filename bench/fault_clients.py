"""The fault-injection harness's traffic: clients that drive lifecycles and retry.

Each client thread drives its own contracts through planned lifecycles
(bench/fault_model.py), a new HTTP connection per attempt. A command is retried with
the same Idempotency-Key after a connection error, a timeout, a 5xx or a 409
`conflict` (which says nothing was applied, and to retry), for up to PATIENCE
seconds; every 2xx answer is applied to the contract's model, and any other answer
the model did not expect is a finding.
"""

from __future__ import annotations

import http.client
import json
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.fault_model import ContractModel, MilestoneModel, Plan, Step, plan

TIMEOUT = 10.0
"""Seconds one attempt waits for its answer before it counts as lost and is retried."""
PATIENCE = 120.0
"""Seconds one operation keeps retrying before it is reported as never acknowledged."""


@dataclass
class Tally:
    """What the run did, counted from every thread."""

    operations: int = 0
    acknowledged: int = 0
    refused: int = 0
    retries: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    retried_answers: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    """5xx answers by request, to look for in the server's log."""
    steps: Counter[str] = field(default_factory=Counter)
    """Steps driven, by kind: milestone events by name, disputes, races, payments."""
    findings: list[str] = field(default_factory=list)
    contracts: int = 0
    backends_terminated: int = 0
    elapsed: float = 0.0
    seed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)

    def count(self, counter: str, key: Any) -> None:
        with self.lock:
            getattr(self, counter)[key] += 1

    def find(self, finding: str) -> None:
        with self.lock:
            self.findings.append(finding)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Sent:
    """An acknowledged POST, kept to replay its key at the end."""

    path: str
    body: Any
    actor: str
    key: str
    answer: Answer


class NeverAcknowledged(Exception):
    """An operation kept failing (connection, timeout, 5xx) for PATIENCE seconds."""


class Api:
    """HTTP/1.1 to the server on 127.0.0.1, a new connection per attempt, retried by the rule:
    the same Idempotency-Key again after a connection error, a timeout, a 5xx or a
    `conflict` (PostgreSQL connections terminated mid-command answer so)."""

    def __init__(self, port: int, key: str, tally: Tally) -> None:
        self.port, self.key, self.tally = port, key, tally
        self.sent: list[Sent] = []

    def attempt(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            sent = {"Authorization": f"Bearer {self.key}"} | headers
            data = None if body is None else json.dumps(body)
            if data is not None:
                sent["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            content = json.loads(payload) if payload.startswith((b"{", b"[")) else payload
            return Answer(response.status, content, dict(response.getheaders()))
        finally:
            connection.close()

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        """One operation: attempts until a final answer (below 500, not a `conflict`), or
        NeverAcknowledged."""
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        give_up, pause = time.monotonic() + PATIENCE, 0.05
        while True:
            try:
                answer = self.attempt(method, path, body, headers)
                problem = answer.body if isinstance(answer.body, dict) else {}
                if answer.status < 500 and problem.get("code") != "conflict":
                    return answer
                because = f" ({problem['cause']})" if "cause" in problem else ""
                self.tally.count(
                    "retried_answers", f"{answer.status} {problem.get('code')}{because}"
                )
                if answer.status >= 500:
                    self.tally.count("server_errors", f"{answer.status} {method} {path}")
                failure = f"{answer.status} {str(answer.body)[:200]}"
            except (OSError, http.client.HTTPException) as exc:
                failure = repr(exc)
            if time.monotonic() > give_up:
                raise NeverAcknowledged(f"{method} {path}: {failure}")
            self.tally.add("retries")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def post(self, path: str, body: Any, actor: str, key: str | None = None) -> Answer:
        """A command under its own Idempotency-Key (or the given one), counted."""
        key = key or secrets.token_hex(12)
        self.tally.add("operations")
        answer = self.call("POST", path, body, Tranche_Actor=actor, Idempotency_Key=key)
        if answer.status < 300:
            self.tally.add("acknowledged")
            self.sent.append(Sent(path, body, actor, key, answer))
        else:
            self.tally.add("refused")
        return answer

    def get(self, path: str, actor: str | None = None) -> Answer:
        answer = self.call("GET", path, **({"Tranche_Actor": actor} if actor else {}))
        if answer.status != 200:
            raise AssertionError(f"GET {path}: {answer.status} {answer.body}")
        return answer


RAIL_STEPS = ("rail fund", "charged fund", "confirm twice", "fail", "payout", "chargeback")


class Diverged(Exception):
    """An answer the model did not expect: the contract's model can no longer be trusted."""


def at_once(*calls: Any) -> list[Answer]:
    """Run each zero-argument call on its own thread at the same moment; their answers."""
    answers: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        try:
            answers[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001  (reported by the caller, on its thread)
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return answers


class Client:
    """One client thread: contracts one after another, each through its planned steps."""

    def __init__(self, number: int, api: Api, rng: random.Random) -> None:
        self.number, self.api, self.rng = number, api, rng
        self.contracts: list[ContractModel] = []

    def run(self, stop: threading.Event, max_operations: int) -> None:
        """Contracts one after another until `stop` or `max_operations` in all; the one under
        way is finished."""
        try:
            while not stop.is_set() and self.api.tally.operations < max_operations:
                self.contract(len(self.contracts))
        except Exception as exc:  # noqa: BLE001  (a client that broke down is a finding)
            self.api.tally.find(f"client {self.number} stopped: {exc!r}")

    def contract(self, index: int, planned: Plan | None = None) -> None:
        """One contract through its plan (else a random one); its model joins `contracts`."""
        lifecycles, steps = planned or plan(self.rng, self.rng.randrange(1, 4))
        buyer, provider = f"b{self.number}-{index}", f"p{self.number}-{index}"
        agreed = sum(amount for amount, _ in lifecycles) + 20_000
        body = {
            "buyer_id": buyer,
            "provider_id": provider,
            "currency": "USD",
            "agreed_amount": agreed,
            "title": f"fault injection {self.number}-{index}",
            "milestones": [{"title": "part", "amount": a} for a, _ in lifecycles],
        }
        created = self.api.post("/v1/contracts", body, buyer)
        if created.status != 201:
            self.api.tally.find(f"creating a contract: {created.status} {created.body}")
            return
        milestones = [
            MilestoneModel(row["id"], amount, lifecycle)
            for row, (amount, lifecycle) in zip(created.body["milestones"], lifecycles, strict=True)
        ]
        model = ContractModel(created.body["id"], buyer, provider, agreed, milestones, steps)
        model.events += [("contract_created", None)] + [
            ("milestone_added", m.id) for m in milestones
        ]
        self.contracts.append(model)
        try:
            self.drive(model)
        except (Diverged, NeverAcknowledged) as exc:
            model.diverged = str(exc)
            self.api.tally.find(f"contract {model.id}: {exc}")

    def drive(self, model: ContractModel) -> None:
        """Interleave the milestones' steps and the contract's, in a random order."""
        queues: list[tuple[MilestoneModel | None, list[Step]]] = [
            (m, list(m.steps)) for m in model.milestones
        ] + [(None, [step]) for step in model.steps]
        while queues:
            milestone, steps = self.rng.choice(queues)
            step = steps.pop(0)
            label = " ".join(step) if milestone is None else step[0]
            self.api.tally.count("steps", step[1] if label == "fire" else label)
            if milestone is None:
                self.contract_step(model, step)
            else:
                self.milestone_step(model, milestone, step)
            queues = [q for q in queues if q[1]]

    def actor(self, model: ContractModel, role: str) -> str:
        return model.buyer if role == "buyer" else model.provider

    def expect(self, answer: Answer, status: int, what: str) -> Any:
        if answer.status != status:
            raise Diverged(f"{what}: expected {status}, got {answer.status} {answer.body}")
        return answer.body

    def fire_call(self, model: ContractModel, m: MilestoneModel, step: Step) -> tuple:
        """The request of a `fire`/`race`/`twice` step: (path, body, actor, amount)."""
        event, role, *divisor = step
        amount = m.escrow // divisor[0] if divisor else None
        body = {"amount": amount} if amount else {}
        path = f"/v1/milestones/{m.id}/events/{event}"
        return path, body, self.actor(model, role), amount

    def fired(self, model: ContractModel, m: MilestoneModel, event: str, amount, body) -> None:
        m.fire(event, amount)
        model.events.append((event, m.id))
        if body["state"] != m.state:
            raise Diverged(f"{event} on {m.id}: answered {body['state']}, expected {m.state}")

    def milestone_step(self, model: ContractModel, m: MilestoneModel, step: Step) -> None:
        kind, *rest = step
        what = f"{kind} {rest} on {m.id} ({m.state})"
        api = self.api
        if kind == "fire":
            path, body, actor, amount = self.fire_call(model, m, tuple(rest))
            self.fired(
                model, m, rest[0], amount, self.expect(api.post(path, body, actor), 200, what)
            )
        elif kind == "twice":
            path, body, actor, amount = self.fire_call(model, m, tuple(rest))
            key = secrets.token_hex(12)
            first, second = at_once(*[lambda: api.post(path, body, actor, key)] * 2)
            self.expect(first, 200, what)
            if (second.status, second.body) != (first.status, first.body):
                raise Diverged(f"{what}: one key answered {first.status} and {second.status}")
            api.tally.add("acknowledged", -1)  # one operation, sent twice
            api.tally.add("operations", -1)
            self.fired(model, m, rest[0], amount, first.body)
        elif kind == "race":
            calls = [self.fire_call(model, m, side) for side in rest]
            answers = at_once(*[lambda c=c: api.post(*c[:3]) for c in calls])
            won = [(side, a) for side, a in zip(rest, answers, strict=True) if a.status == 200]
            lost = [a for a in answers if a.status != 200]
            if len(won) != 1 or any(a.status != 409 for a in lost):
                raise Diverged(f"{what}: answers {[(a.status, a.body) for a in answers]}")
            (event, _), answer = won[0]
            self.fired(model, m, event, None, answer.body)
        elif kind == "dispute":
            actor = self.actor(model, rest[0])
            answer = api.post(f"/v1/milestones/{m.id}/events/dispute", {"note": "x"}, actor)
            body = self.expect(answer, 200, what)
            m.previous, m.state, m.dispute = m.state, "disputed", answer.headers["Location"]
            model.events.append(("dispute", m.id))
            if body["state"] != "disputed":
                raise Diverged(f"{what}: answered {body['state']}")
        elif kind == "offer":
            role, share = rest
            to_provider = m.escrow * share // 10_000
            body = {"to_provider": to_provider, "to_buyer": m.escrow - to_provider}
            answer = api.post(f"{m.dispute}/offers", body, self.actor(model, role))
            offer = self.expect(answer, 201, what)  # the offer made
            m.offer = (offer["id"], to_provider, m.escrow - to_provider)
        elif kind == "accept":
            assert m.offer is not None
            path = f"{m.dispute}/offers/{m.offer[0]}/accept"
            self.expect(api.post(path, None, self.actor(model, rest[0])), 200, what)
            m.settle(*m.offer[1:])
            model.events.append(("accept_offer", m.id))
        elif kind in RAIL_STEPS:
            self.rail_step(model, m, kind)
        elif kind == "withdraw":
            self.expect(
                api.post(f"{m.dispute}/withdraw", None, self.actor(model, rest[0])), 200, what
            )
            assert m.previous is not None
            m.state = m.previous
            model.events.append(("withdraw", m.id))

    def rail_step(self, model: ContractModel, m: MilestoneModel, kind: str) -> None:
        """A step at the payment rail: fundings, a payout, a chargeback (see fault_model)."""
        api, what = self.api, f"{kind} on {m.id} ({m.state})"
        fund = f"/v1/milestones/{m.id}/events/fund"
        charge = {"rail_reference": f"pi_{secrets.token_hex(8)}", "amount": m.amount}
        charge["currency"] = "USD"
        if kind == "rail fund":
            body = self.expect(api.post(fund, {"pending": True}, model.buyer), 202, what)
            m.pending, m.funding = m.amount, body["funding"]["id"]
            model.events.append(("funding_pending", m.id))
        elif kind == "charged fund":
            body = self.expect(api.post(fund, charge, model.buyer), 200, what)
            self.fired(model, m, "fund", None, body["milestone"])
            m.reference = charge["rail_reference"]
        elif kind == "confirm twice":
            path = f"/v1/fundings/{m.funding}/confirm"
            answers = at_once(*[lambda: api.post(path, charge, model.buyer)] * 2)
            won = [a for a in answers if a.status == 200]
            if len(won) != 1 or any(a.status != 409 for a in answers if a.status != 200):
                raise Diverged(f"{what}: answers {[(a.status, a.body) for a in answers]}")
            m.pending, m.reference = 0, charge["rail_reference"]
            model.events.append(("funding_confirmed", m.id))
            self.fired(model, m, "fund", None, won[0].body["milestone"])
        elif kind == "fail":
            self.expect(
                api.post(f"/v1/fundings/{m.funding}/fail", {"reason": "declined"}, model.buyer),
                200,
                what,
            )
            m.pending = 0
            model.events.append(("funding_failed", m.id))
        elif kind == "payout":
            due = model.owed()[model.provider] - model.paid_out
            if due <= 0:
                return
            body = {"contract_id": model.id, "party_id": model.provider, "amount": due}
            body |= {"currency": "USD", "rail_reference": f"tr_{secrets.token_hex(8)}"}
            payout = self.expect(api.post("/v1/payouts", body, model.buyer), 201, what)
            self.expect(api.post(f"/v1/payouts/{payout['id']}/paid", None, model.buyer), 200, what)
            model.paid_out += due
            model.events += [("payout_recorded", None), ("payout_paid", None)]
        elif kind == "chargeback":
            body = {"funding_reference": m.reference, "amount": m.amount, "currency": "USD"}
            body["rail_reference"] = f"du_{secrets.token_hex(8)}"
            booked = self.expect(api.post("/v1/chargebacks", body, model.buyer), 201, what)
            borne = m.charge_back()
            model.events.append(("chargeback_booked", m.id))
            if booked["borne_by"]["from_provider"] != borne:
                raise Diverged(f"{what}: the provider bore {booked['borne_by']}, not {borne}")

    def contract_step(self, model: ContractModel, step: Step) -> None:
        api, amount = self.api, self.rng.randrange(1, 50) * 100
        money = {"amount": amount, "note": "fault injection"}
        if step == ("pay",):
            path = f"/v1/contracts/{model.id}/payments"
            self.expect(api.post(path, money, model.buyer), 201, f"paying {model.id}")
            model.pay(amount)
            return
        path = f"/v1/contracts/{model.id}/payment-requests"
        answer = api.post(path, money, model.provider)
        request = self.expect(answer, 201, f"requesting a payment on {model.id}")["id"]
        model.events.append(("payment_requested", None))
        decision = step[1]
        verb = "decline" if decision == "decline" else "pay"
        decide = f"/v1/payment-requests/{request}/{verb}"
        if decision == "pay twice":
            answers = at_once(*[lambda: api.post(decide, None, model.buyer)] * 2)
            paid = [a for a in answers if a.status == 200]
            if len(paid) != 1:
                api.tally.find(f"payment request {request}: paid by {len(paid)} requests at once")
            for _ in paid:  # the model holds what was acknowledged, even twice
                model.pay(amount)
            return
        body = self.expect(api.post(decide, None, model.buyer), 200, f"{verb} {request}")
        if decision == "pay":
            model.pay(amount)
        else:
            model.events.append(("payment_request_declined", None))
        if body["status"] != ("paid" if decision == "pay" else "declined"):
            raise Diverged(f"{verb} {request}: answered {body['status']}")
