"""Contract commands: create a contract, add milestones, pay directly, request payments.

Like the milestone commands, these work in the caller's unit of work and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, select

from engine.domain.actors import Actor, check_party_id, role_of
from engine.domain.errors import (
    ExceedsAgreedError,
    ForbiddenEventError,
    NotFoundError,
    TrancheError,
    ValidationError,
)
from engine.domain.ledger_legs import DIRECT
from engine.domain.money import check_currency, positive_amount
from engine.domain.policy.vocabulary import Movement
from engine.domain.texts import check_text
from engine.service.uow import UnitOfWork
from engine.store import batch
from engine.store.events import GENESIS, append
from engine.store.ledger import post_movement
from engine.store.models import Contract, Milestone, PaymentRequest, PolicyVersion, new_id
from engine.store.policy_store import latest_version
from engine.store.rows import inserted


def _with_lock(query: Select[Any]) -> tuple[Select[Any], Select[Any]]:
    """The query as is, and row-locked (for PostgreSQL; SQLite locks the whole database)."""
    return query, query.with_for_update()


# Built once, and on the tables where no object is wanted: building a query per call, and
# the ORM's handling of a statement about mapped classes, cost more than running it.
_CONTRACT = select(Contract).where(Contract.id == bindparam("contract_id"))
_POLICIES = cast(Table, PolicyVersion.__table__)
_MAX_VERSION = select(func.max(_POLICIES.c.version))
_LATEST = _MAX_VERSION.where(_POLICIES.c.name == bindparam("name"))
_CONTRACT_AND_LATEST = _with_lock(
    _CONTRACT.add_columns(
        _MAX_VERSION.where(_POLICIES.c.name == Contract.policy_name).scalar_subquery()
    )
)
"""The contract and the newest published version of its policy, in one round trip."""
_LOAD_CONTRACT = _with_lock(_CONTRACT)
_MILESTONES = cast(Table, Milestone.__table__)
_CLAIMS = select(
    _MILESTONES.c.policy_name,
    _MILESTONES.c.policy_version,
    _MILESTONES.c.state,
    _MILESTONES.c.funded,
    _MILESTONES.c.amount,
).where(_MILESTONES.c.contract_id == bindparam("contract_id"))

_Row = TypeVar("_Row", Contract, Milestone)


def _insert(uow: UnitOfWork, new: _Row, row: dict[str, Any]) -> _Row:
    """INSERT `row`, and hold `new` (made of the same values) in the session as if flushed.

    A plain INSERT built once (engine.store.batch: on PostgreSQL it leaves with the
    command's other writes): the ORM's flush of one new object cost several times the
    statement. `row` gives every column, so `new` has nothing left to load, a view reads
    it without a query, and its first change is checked against its version as usual.
    """
    batch.insert_later(uow.session, cast(Table, type(new).__table__), tuple(row), [row])
    inserted(uow.session, new)
    return new


def _load(
    uow: UnitOfWork,
    queries: tuple[Select[Any], Select[Any]],
    contract_id: str,
    tenant: str | None,
    lock: bool,
) -> Sequence[Any]:
    """The row of `queries` (the contract first), held by the unit of work."""
    query = queries[lock and uow.database.is_postgres]
    row = uow.session.execute(query, {"contract_id": contract_id}).first()
    if row is None or (tenant and row[0].tenant != tenant):
        raise NotFoundError(f"no contract {contract_id!r}", contract_id=contract_id)
    uow.held.append(row[0])  # a view read after the command finds it without a query
    return row


def get_contract(
    uow: UnitOfWork, contract_id: str, tenant: str | None = None, lock: bool = False
) -> Contract:
    contract: Contract = _load(uow, _LOAD_CONTRACT, contract_id, tenant, lock)[0]
    return contract


def _published(uow: UnitOfWork, policy: str, latest: int | None) -> int:
    """`latest`, as a query read it for `policy`; None means no version of `policy` is
    published, and `latest_version` raises the error that says so."""
    return latest if latest is not None else latest_version(uow.session, policy)


def create_contract(
    uow: UnitOfWork,
    *,
    buyer_id: str,
    provider_id: str,
    currency: str,
    agreed_amount: int,
    title: str,
    policy: str = "fixed-price",
    tenant: str = "default",
) -> Contract:
    buyer_id = check_party_id(buyer_id, "buyer_id")
    provider_id = check_party_id(provider_id, "provider_id")
    if buyer_id == provider_id:
        raise ValidationError("the buyer and the provider must be different people")
    if buyer_id in ("system",) or provider_id in ("system",):
        raise ValidationError("'system' is reserved for the engine's timers")
    now = uow.clock.now()
    name = check_text(policy, "policy", 64)
    version = _published(uow, name, uow.session.scalar(_LATEST, {"name": name}))
    row = {
        "id": new_id("ct"),
        "tenant": tenant,
        "buyer_id": buyer_id,
        "provider_id": provider_id,
        "currency": check_currency(currency),
        "agreed_amount": positive_amount(agreed_amount, "agreed_amount"),
        "title": check_text(title, "title", 200),
        "policy_name": name,
        "policy_version": version,
        "created_at": now,
        "event_seq": 0,  # the first event's INSERT moves the head (a trigger, see events.append)
        "last_event_hash": GENESIS,
    }
    contract = _insert(uow, Contract(**row), row)
    append(
        uow.session,
        contract,
        "contract_created",
        buyer_id,
        "buyer",
        now,
        policy=(name, version),
        amount=contract.agreed_amount,
        data={"provider_id": provider_id, "title": contract.title},
    )
    return contract


def _committed_amount(uow: UnitOfWork, contract: Contract) -> tuple[int, int]:
    """What the contract's milestones claim of the agreed amount (unfunded finals free theirs),
    and how many milestones it has."""
    total = count = 0
    for name, version, state, funded, amount in uow.session.execute(
        _CLAIMS, {"contract_id": contract.id}
    ):
        count += 1
        if not (uow.policy(name, version).state(state).final and not funded):
            total += amount
    return total, count


def add_milestone(
    uow: UnitOfWork,
    contract_id: str,
    *,
    title: str,
    amount: int,
    actor: Actor | None = None,
    tenant: str | None = None,
) -> Milestone:
    """A new milestone, proposed, on the newest published version of the contract's policy."""
    found = _load(uow, _CONTRACT_AND_LATEST, contract_id, tenant, lock=True)
    contract, latest = found[0], found[1]
    role = role_of(contract, actor) if actor else "buyer"
    committed, existing = _committed_amount(uow, contract)
    return _propose(uow, contract, latest, committed, existing, title, amount, actor, role)


def create_contract_with_milestones(
    uow: UnitOfWork, milestones: Sequence[dict[str, Any]], **fields: Any
) -> tuple[Contract, list[Milestone]]:
    """A contract and the milestones proposed with it, all or nothing.

    The contract was created in this transaction, so no other can hold it, and what its
    milestones claim is the sum of those added here: no query reads either back. A
    refused milestone's error names its `milestone_index`.
    """
    contract = create_contract(uow, **fields)
    added: list[Milestone] = []
    committed = 0
    for index, proposed in enumerate(milestones):
        try:
            milestone = _propose(
                uow,
                contract,
                contract.policy_version,
                committed,
                index,
                proposed["title"],
                proposed["amount"],
            )
        except TrancheError as refused:
            refused.fields["milestone_index"] = index
            raise
        committed += milestone.amount
        added.append(milestone)
    return contract, added


def _propose(
    uow: UnitOfWork,
    contract: Contract,
    latest: int | None,
    committed: int,
    existing: int,
    title: str,
    amount: int,
    actor: Actor | None = None,
    role: str = "buyer",
) -> Milestone:
    """Insert the milestone if `amount` and `title` are valid and the contract's milestones,
    which claim `committed` and number `existing`, leave room for it; `latest`: the newest
    published version of the contract's policy."""
    amount = positive_amount(amount)
    title = check_text(title, "title", 200)
    if committed + amount > contract.agreed_amount:
        raise ExceedsAgreedError(
            f"milestones would total {committed + amount}, more than the agreed "
            f"{contract.agreed_amount}",
            agreed=contract.agreed_amount,
            committed=committed,
            amount=amount,
        )
    now = uow.clock.now()
    policy = uow.policy(contract.policy_name, _published(uow, contract.policy_name, latest))
    position = 1 + existing
    row = {
        "id": new_id("ms"),
        "contract_id": contract.id,
        "position": position,
        "title": title,
        "amount": amount,
        "state": policy.initial.name,
        "policy_name": policy.name,
        "policy_version": policy.version,
        "version": 1,
        "revisions": 0,
        "escrow": 0,
        "funded": 0,
        "released": 0,
        "refunded": 0,
        "fees": 0,
        "pending_funding": 0,
        "charged_back": 0,
        "previous_state": None,
        "entered_by": None,
        "created_at": now,
        "updated_at": now,
    }
    milestone = _insert(uow, Milestone(**row), row)
    append(
        uow.session,
        contract,
        "milestone_added",
        actor.id if actor else contract.buyer_id,
        role,
        now,
        policy=policy.key,
        milestone_id=milestone.id,
        amount=amount,
        to_state=milestone.state,
        data={"title": title, "position": position},
    )
    return milestone


def _pay(
    uow: UnitOfWork, contract: Contract, actor: Actor, amount: int, note: str, now: datetime
) -> None:
    policy = uow.policy(contract.policy_name, contract.policy_version)
    entry_id = post_movement(
        uow.session, contract, Movement(DIRECT, amount), None, policy, now, note
    )
    append(
        uow.session,
        contract,
        "payment_made",
        actor.id,
        "buyer",
        now,
        policy=policy.key,
        amount=amount,
        data={"note": note, "ledger_entries": [entry_id], "notify": ["provider"]},
    )


def _require(contract: Contract, actor: Actor, role: str, what: str) -> None:
    actual = role_of(contract, actor)
    if actual != role:
        raise ForbiddenEventError(
            f"only the {role} may {what}; {actor.id!r} is the {actual}",
            event=what.replace(" ", "_"),
            actor=actual,
            allowed_events=[],
        )


def pay_directly(
    uow: UnitOfWork,
    contract_id: str,
    *,
    actor: Actor,
    amount: int,
    note: str = "",
    tenant: str | None = None,
) -> None:
    """The buyer pays the provider any amount, at any time, outside the milestones."""
    contract = get_contract(uow, contract_id, tenant, lock=True)
    _require(contract, actor, "buyer", "pay directly")
    _pay(
        uow,
        contract,
        actor,
        positive_amount(amount),
        check_text(note, "note", 500, False),
        uow.clock.now(),
    )


def request_payment(
    uow: UnitOfWork,
    contract_id: str,
    *,
    actor: Actor,
    amount: int,
    note: str = "",
    tenant: str | None = None,
) -> PaymentRequest:
    """The provider asks the buyer for a direct payment (a small sum before starting, say)."""
    contract = get_contract(uow, contract_id, tenant, lock=True)
    _require(contract, actor, "provider", "request a payment")
    now = uow.clock.now()
    request = PaymentRequest(
        id=new_id("pr"),
        contract_id=contract.id,
        amount=positive_amount(amount),
        note=check_text(note, "note", 500, False),
        status="requested",
        requested_by=actor.id,
        created_at=now,
    )
    uow.session.add(request)
    append(
        uow.session,
        contract,
        "payment_requested",
        actor.id,
        "provider",
        now,
        policy=(contract.policy_name, contract.policy_version),
        amount=request.amount,
        data={"payment_request_id": request.id, "note": request.note, "notify": ["buyer"]},
    )
    uow.session.flush()
    return request


def decide_payment_request(
    uow: UnitOfWork,
    request_id: str,
    *,
    actor: Actor,
    pay: bool,
    tenant: str | None = None,
) -> PaymentRequest:
    """The buyer pays or declines an open request; a decided request stays decided.

    The request's row is locked before its status is read (FOR UPDATE on PostgreSQL;
    SQLite's writer holds the whole database), so of two decisions sent at once the
    second waits, then reads the first one's outcome and is refused.
    """
    request = uow.session.get(
        PaymentRequest,
        request_id,
        with_for_update=uow.database.is_postgres,
        populate_existing=True,  # a copy read earlier in this session may be stale
    )
    if request is None:
        raise NotFoundError(f"no payment request {request_id!r}", payment_request_id=request_id)
    contract = get_contract(uow, request.contract_id, tenant, lock=True)
    verb = "pay" if pay else "decline"
    _require(contract, actor, "buyer", f"{verb} a payment request")
    if request.status != "requested":
        raise ForbiddenEventError(
            f"payment request {request_id} is already {request.status}",
            event=verb,
            state=request.status,
            actor="buyer",
            allowed_events=[],
        )
    now = uow.clock.now()
    request.status, request.decided_at, request.decided_by = (
        ("paid" if pay else "declined"),
        now,
        actor.id,
    )
    if pay:
        _pay(
            uow,
            contract,
            actor,
            request.amount,
            request.note or f"payment request {request.id}",
            now,
        )
    else:
        append(
            uow.session,
            contract,
            "payment_request_declined",
            actor.id,
            "buyer",
            now,
            policy=(contract.policy_name, contract.policy_version),
            amount=request.amount,
            data={"payment_request_id": request.id, "notify": ["provider"]},
        )
    uow.session.flush()
    return request
