"""Request and response bodies. Amounts are integers in the currency's minor units."""

from __future__ import annotations

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError

from engine.domain.actors import PARTY_ID
from engine.domain.money import MAX_AMOUNT
from engine.domain.policy.schema import Duration
from web.api.webhook_post import ERRORS

Amount = lambda **kw: fields.Integer(  # noqa: E731
    strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT), **kw
)
Text = lambda lo, hi, **kw: fields.String(validate=validate.Length(lo, hi), **kw)  # noqa: E731
PartyId = lambda **kw: fields.String(  # noqa: E731
    validate=validate.Regexp(
        PARTY_ID, error="1 to 128 printable ASCII characters, no space at either end"
    ),
    metadata={"description": "the id the party acts under in Tranche-Actor (ASCII)"},
    **kw,
)


class ProblemSchema(Schema):
    """RFC 9457 problem details; extra members (errors, allowed_events...) depend on `type`."""

    class Meta:
        unknown = "include"

    type = fields.String(required=True, metadata={"example": "urn:tranche:problem:not_found"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "field -> messages, for validation errors"})
    allowed_events = fields.List(fields.String(), metadata={"description": "forbidden_event"})


# requests ----------------------------------------------------------------------------
class MilestoneCreate(Schema):
    title = Text(1, 200, required=True)
    amount = Amount(required=True, metadata={"example": 25000})


MILESTONES_AT_CREATION = 50


class ContractCreate(Schema):
    buyer_id = PartyId(required=True)
    provider_id = PartyId(required=True)
    currency = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Z]{3}$"), metadata={"example": "USD"}
    )
    agreed_amount = Amount(required=True, metadata={"example": 100000})
    title = Text(1, 200, required=True)
    policy = Text(1, 64, load_default="fixed-price")
    milestones = fields.List(
        fields.Nested(MilestoneCreate),
        load_default=list,
        validate=validate.Length(max=MILESTONES_AT_CREATION),
        metadata={
            "description": "proposed milestones created with the contract, in this order and "
            "in the same transaction: all of them and the contract, or nothing"
        },
    )


RailReference = lambda **kw: fields.String(  # noqa: E731
    validate=validate.Regexp(r"^[\x21-\x7e]{1,255}$", error="1 to 255 printable ASCII, no spaces"),
    **({"metadata": {"description": "the rail's id (a Stripe pi_..., tr_..., du_...)"}} | kw),
)
Currency = lambda **kw: fields.String(  # noqa: E731
    validate=validate.Regexp(r"^[A-Za-z]{3}$", error="an ISO 4217 code"),
    **({"metadata": {"example": "USD"}} | kw),
)
Reason = lambda **kw: Text(1, 500, **kw)  # noqa: E731


class EventBody(Schema):
    amount = Amount(
        allow_none=True,
        metadata={
            "description": "for events that move a part; with rail_reference, the amount charged"
        },
    )
    note = Text(0, 2000, load_default="")
    rail_reference = RailReference(
        metadata={"description": "funding: the charge or payment intent that paid for it"}
    )
    currency = Currency(metadata={"description": "funding: the currency charged"})
    pending = fields.Boolean(
        load_default=False,
        metadata={"description": "funding: open it pending; the rail's confirmation funds it"},
    )
    expires_in = fields.Integer(
        strict=True,
        validate=validate.Range(60, 30 * 86_400),
        metadata={"description": "seconds a pending funding waits for the rail (default a day)"},
    )


class ChargeBody(Schema):
    rail_reference = RailReference(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)


class ReasonBody(Schema):
    reason = Reason(required=True)


class PayoutCreate(Schema):
    contract_id = Text(1, 40, required=True)
    party_id = PartyId(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)
    rail_reference = RailReference(required=True)


class ReversalBody(Schema):
    reversed_total = Amount(
        required=True, metadata={"description": "all the rail took back of it so far"}
    )


class ChargebackCreate(Schema):
    funding_reference = RailReference(
        required=True, metadata={"description": "the rail_reference of the funding"}
    )
    rail_reference = RailReference(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)
    reason = Text(0, 500, load_default="")
    respond_by = fields.AwareDateTime(
        load_default=None, metadata={"description": "the card network's deadline"}
    )


class ClockAdvance(Schema):
    """Exactly one of `to` and `by`."""

    to = fields.AwareDateTime(metadata={"description": "the moment to move the clock to"})
    by = Duration(metadata={"description": "how far to move it: 14d, 12h or 30m"})

    @validates_schema
    def one_of(self, data: dict, **kwargs: object) -> None:
        if ("to" in data) == ("by" in data):
            raise MarshmallowError("send exactly one of to and by", "to")


class PretendChargeback(Schema):
    funding_id = Text(1, 40, required=True)
    amount = Amount(
        load_default=None, metadata={"description": "what the network takes (default: all)"}
    )
    reason = Text(1, 500, load_default="fraudulent")


class CurrencyArgs(Schema):
    currency = Currency()


class PaymentBody(Schema):
    amount = Amount(required=True)
    note = Text(0, 500, load_default="")


class WebhookCreate(Schema):
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
    )


class PageArgs(Schema):
    after = fields.String(validate=validate.Length(1, 64), metadata={"description": "cursor"})
    limit = fields.Integer(strict=False, validate=validate.Range(1, 500), load_default=50)


class DiagramArgs(Schema):
    format = fields.String(
        validate=validate.OneOf(["svg", "png", "dot"]),
        load_default="svg",
        metadata={"description": "svg, png or dot (Graphviz source)"},
    )


class FeedArgs(Schema):
    after = fields.String(
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        load_default="0",
        metadata={"description": "the next_cursor of the previous page"},
    )
    limit = fields.Integer(validate=validate.Range(1, 500), load_default=100)


# responses ---------------------------------------------------------------------------
class PolicyRef(Schema):
    name = fields.String(required=True)
    version = fields.Integer(required=True)


class SummaryOut(Schema):
    currency = fields.String(required=True)
    agreed = fields.Integer(required=True)
    funded = fields.Integer(required=True)
    in_escrow = fields.Integer(required=True)
    released = fields.Integer(required=True)
    direct_payments = fields.Integer(required=True)
    paid_to_date = fields.Integer(required=True)
    refunded = fields.Integer(required=True)
    fees = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    pending_funding = fields.Integer(
        required=True, metadata={"description": "awaiting the rail; not in escrow"}
    )
    charged_back = fields.Integer(required=True)


class ContractOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    buyer_id = fields.String(required=True)
    provider_id = fields.String(required=True)
    currency = fields.String(required=True)
    agreed_amount = fields.Integer(required=True)
    policy = fields.Nested(PolicyRef, required=True)
    created_at = fields.DateTime(required=True)
    summary = fields.Nested(SummaryOut, required=True)


class ContractPage(Schema):
    data = fields.List(fields.Nested(ContractOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class DeadlineOut(Schema):
    event = fields.String(required=True)
    due_at = fields.DateTime(required=True)
    description = fields.String(required=True)
    outcome = fields.String(required=True, allow_none=True)


class MilestoneOut(Schema):
    id = fields.String(required=True)
    contract_id = fields.String(required=True)
    position = fields.Integer(required=True)
    title = fields.String(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    state = fields.String(required=True)
    final = fields.Boolean(required=True)
    policy = fields.Nested(PolicyRef, required=True)
    version = fields.Integer(required=True, metadata={"description": "also the ETag"})
    revisions = fields.Integer(required=True)
    role = fields.String(required=True, allow_none=True)
    allowed_events = fields.List(fields.String(), required=True)
    summary = fields.Nested(SummaryOut, required=True)
    next_deadline = fields.Nested(DeadlineOut, required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class MilestoneList(Schema):
    data = fields.List(fields.Nested(MilestoneOut), required=True)


class ContractCreated(ContractOut):
    milestones = fields.List(
        fields.Nested(MilestoneOut),
        required=True,
        metadata={"description": "the milestones created with it, in order"},
    )


class EventOut(Schema):
    id = fields.Integer(required=True)
    contract_id = fields.String(required=True)
    milestone_id = fields.String(required=True, allow_none=True)
    seq = fields.Integer(required=True)
    type = fields.String(required=True)
    actor_id = fields.String(required=True)
    actor_role = fields.String(required=True)
    amount = fields.Integer(required=True, allow_none=True)
    currency = fields.String(required=True)
    from_state = fields.String(required=True, allow_none=True)
    to_state = fields.String(required=True, allow_none=True)
    policy = fields.Nested(PolicyRef, required=True)
    data = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)
    hash = fields.String(required=True)


class EventList(Schema):
    data = fields.List(fields.Nested(EventOut), required=True)


class FeedItem(Schema):
    cursor = fields.String(required=True)
    event = fields.Nested(EventOut, required=True)


class FeedPage(Schema):
    data = fields.List(fields.Nested(FeedItem), required=True)
    next_cursor = fields.String(required=True)


class PaymentOut(Schema):
    contract_id = fields.String(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    note = fields.String(required=True)
    summary = fields.Nested(SummaryOut, required=True)


class PaymentRequestOut(Schema):
    id = fields.String(required=True)
    contract_id = fields.String(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True)
    requested_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    decided_by = fields.String(required=True, allow_none=True)


class PolicySummaryOut(Schema):
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    digest = fields.String(required=True)
    published_at = fields.DateTime(required=True)


class PolicyList(Schema):
    data = fields.List(fields.Nested(PolicySummaryOut), required=True)


class TransitionOut(Schema):
    event = fields.String(required=True)
    sources = fields.List(fields.String(), required=True)
    target = fields.String(required=True)
    actors = fields.List(fields.String(), required=True)
    guards = fields.List(fields.String(), required=True)
    effects = fields.List(fields.String(), required=True)


class PolicyOut(PolicySummaryOut):
    description = fields.String(required=True)
    states = fields.List(fields.String(), required=True)
    final_states = fields.List(fields.String(), required=True)
    transitions = fields.List(fields.Nested(TransitionOut), required=True)
    document = fields.String(required=True, metadata={"description": "the YAML source"})


class WebhookOut(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    secret = fields.String(metadata={"description": "only in the response that created it"})


class WebhookList(Schema):
    data = fields.List(fields.Nested(WebhookOut), required=True)


class DeliveryOut(Schema):
    id = fields.String(required=True)
    event_id = fields.Integer(required=True)
    cursor = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(required=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(ERRORS),
        metadata={"description": "what went wrong, as a code (never the raw error)"},
    )
    delivered_at = fields.DateTime(required=True, allow_none=True)


class DeliveryList(Schema):
    data = fields.List(fields.Nested(DeliveryOut), required=True)


class FundingOut(Schema):
    id = fields.String(required=True)
    contract_id = fields.String(required=True)
    milestone_id = fields.String(required=True)
    event = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"description": "pending, confirmed, failed, expired"}
    )
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    rail_reference = fields.String(required=True, allow_none=True)
    failure_reason = fields.String(required=True, allow_none=True)
    expires_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    settled_at = fields.DateTime(required=True, allow_none=True)


class FundingList(Schema):
    data = fields.List(fields.Nested(FundingOut), required=True)


class FundingResult(Schema):
    funding = fields.Nested(FundingOut, required=True)
    milestone = fields.Nested(MilestoneOut, required=True)


class PayoutOut(Schema):
    id = fields.String(required=True)
    contract_id = fields.String(required=True)
    party_id = fields.String(required=True)
    kind = fields.String(
        required=True, metadata={"description": "payout (provider) or refund (buyer)"}
    )
    status = fields.String(
        required=True, metadata={"description": "in_flight, paid, failed, reversed"}
    )
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    rail_reference = fields.String(required=True)
    failure_reason = fields.String(required=True, allow_none=True)
    reversed_amount = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    settled_at = fields.DateTime(required=True, allow_none=True)


class ChargebackOut(Schema):
    id = fields.String(required=True)
    funding_id = fields.String(required=True)
    contract_id = fields.String(required=True)
    milestone_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "booked, won, lost"})
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    rail_reference = fields.String(required=True)
    reason = fields.String(required=True)
    respond_by = fields.DateTime(required=True, allow_none=True)
    borne_by = fields.Dict(
        required=True,
        metadata={
            "description": "who bore it: from_escrow, from_available, from_pending, "
            "provider_debt, platform_loss"
        },
    )
    created_at = fields.DateTime(required=True)
    settled_at = fields.DateTime(required=True, allow_none=True)


class ChargebackList(Schema):
    data = fields.List(fields.Nested(ChargebackOut), required=True)


class BalanceOut(Schema):
    party_id = fields.String(required=True)
    currency = fields.String(required=True)
    pending = fields.Integer(required=True, metadata={"description": "in the security hold"})
    available = fields.Integer(required=True, metadata={"description": "negative: a debt"})
    in_flight = fields.Integer(required=True)
    paid_out = fields.Integer(required=True)
    owed = fields.Integer(
        required=True, metadata={"description": "paid out + available + pending + in flight"}
    )
    debt = fields.Integer(required=True)
    due = fields.Integer(required=True, metadata={"description": "what may be paid out now"})


class BalanceList(Schema):
    data = fields.List(fields.Nested(BalanceOut), required=True)


class ClockOut(Schema):
    tenant = fields.String(required=True)
    now = fields.DateTime(required=True, metadata={"description": "the sandbox's frozen time"})


class AdvanceOut(ClockOut):
    previous = fields.DateTime(required=True)
    timers = fields.List(
        fields.Dict(), required=True, metadata={"description": "timers fired, with outcomes"}
    )
    disputes = fields.List(
        fields.Dict(), required=True, metadata={"description": "cases past their deadline"}
    )
    fundings_expired = fields.List(fields.String(), required=True)
    holds_matured = fields.Integer(required=True)


class OrderOut(Schema):
    order = fields.String(required=True, metadata={"example": "fail_next_funding"})
    reason = fields.String(required=True)
