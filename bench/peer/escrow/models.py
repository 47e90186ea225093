"""The peer's rows: keys, contracts, milestones (a django-fsm machine), events, timers,
idempotency records. Money moves in django-hordak's ledger (escrow.ledger).

The machine is Tranche's policies/fixed-price.yaml (version 2) for the states a lifecycle
passes through; its transitions name the role that may fire them (`permission`) and carry
the policy's effects and notices (`custom`). Disputes and offers are not modelled: their
events exist so that `allowed_events` lists what Tranche lists, and firing one is refused.
"""

from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

POLICY = ("fixed-price", 2)
FEE_BPS = 500  # platform_fee_bps: 5% of every payment to the provider
REVISION_LIMIT = 3
TIMERS = {  # state -> (event, days, description, outcome), as the policy's timers
    "submitted": ("review_period_elapsed", 14, "auto-approve", "approved"),
    "refund_requested": ("refund_deadline_passed", 7, "auto-refund", "refunded"),
}
FINAL = {"approved", "refunded", "settled", "cancelled"}
SERVED = {"fund", "submit", "approve", "cancel"}
"""The events this peer carries out; the machine's others are refused (501)."""


def role(*roles: str):
    return lambda milestone, actor_role: actor_role in roles


class ApiKey(models.Model):
    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.CharField(max_length=64)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True)


class Contract(models.Model):
    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.CharField(max_length=64, db_index=True)
    buyer_id = models.CharField(max_length=128)
    provider_id = models.CharField(max_length=128)
    currency = models.CharField(max_length=3)
    agreed_amount = models.BigIntegerField()
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    event_seq = models.IntegerField(default=0)  # the hash chain's head
    last_event_hash = models.CharField(max_length=64)


class Milestone(ConcurrentTransitionMixin, models.Model):
    id = models.CharField(max_length=40, primary_key=True)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="milestones")
    position = models.IntegerField()
    title = models.CharField(max_length=200)
    amount = models.BigIntegerField()
    state = FSMField(default="proposed", max_length=64)
    version = models.IntegerField(default=1)
    revisions = models.IntegerField(default=0)
    escrow = models.BigIntegerField(default=0)
    funded = models.BigIntegerField(default=0)
    released = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)
    previous_state = models.CharField(max_length=64, null=True)
    entered_by = models.CharField(max_length=16, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    # The transitions, in the policy's order (allowed_events lists them so).
    @transition(state, "proposed", "funded", permission=role("buyer"), custom={"effect": "hold"})
    def fund(self):
        pass

    @transition(state, "proposed", "cancelled", permission=role("buyer", "provider"))
    def cancel(self):
        pass

    @transition(
        state,
        ["funded", "refund_requested"],
        "submitted",
        permission=role("provider"),
        custom={"notify": ["buyer"]},
    )
    def submit(self):
        pass

    @transition(state, ["funded", "submitted"], None, permission=role("buyer"))
    def release(self):
        pass

    @transition(
        state,
        ["funded", "submitted"],
        "approved",
        permission=role("buyer"),
        custom={"effect": "release_rest", "notify": ["provider"]},
    )
    def approve(self):
        pass

    @transition(
        state,
        "submitted",
        "funded",
        permission=role("buyer"),
        conditions=[lambda m: m.revisions < REVISION_LIMIT],
    )
    def request_changes(self):
        pass

    @transition(state, "submitted", "approved", permission=role("system"))
    def review_period_elapsed(self):
        pass

    @transition(state, "funded", "refund_requested", permission=role("buyer"))
    def request_refund(self):
        pass

    @transition(state, "refund_requested", "refunded", permission=role("provider"))
    def accept_refund(self):
        pass

    @transition(state, "refund_requested", "funded", permission=role("buyer"))
    def withdraw_refund_request(self):
        pass

    @transition(state, "refund_requested", "refunded", permission=role("system"))
    def refund_deadline_passed(self):
        pass

    @transition(state, ["funded", "submitted"], "refunded", permission=role("provider"))
    def refund(self):
        pass

    @transition(
        state,
        ["funded", "submitted", "refund_requested"],
        "disputed",
        permission=role("buyer", "provider"),
    )
    def dispute(self):
        pass


EVENTS = [
    "fund",
    "cancel",
    "submit",
    "release",
    "approve",
    "request_changes",
    "review_period_elapsed",
    "request_refund",
    "accept_refund",
    "withdraw_refund_request",
    "refund_deadline_passed",
    "refund",
    "dispute",
    "accept_offer",
    "rule",
    "withdraw",
    "escalate",
]
"""Every event of the policy, in its order (the last four act in a dispute only)."""


class Event(models.Model):
    """An event per transition, hash-chained per contract (escrow.chain)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT)
    milestone = models.ForeignKey(Milestone, null=True, on_delete=models.PROTECT)
    seq = models.IntegerField()
    type = models.CharField(max_length=64)
    actor_id = models.CharField(max_length=128)
    actor_role = models.CharField(max_length=16)
    amount = models.BigIntegerField(null=True)
    currency = models.CharField(max_length=3)
    from_state = models.CharField(max_length=64, null=True)
    to_state = models.CharField(max_length=64, null=True)
    policy_name = models.CharField(max_length=64)
    policy_version = models.IntegerField()
    data = models.TextField(default="{}")
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "seq"], name="event_seq")]


class Timer(models.Model):
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT)
    event = models.CharField(max_length=64)
    description = models.CharField(max_length=200, default="")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, default="pending")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an Idempotency-Key, written in its transaction; the
    key is the primary key (with the tenant), as Tranche's."""

    pk = models.CompositePrimaryKey("tenant", "key")
    tenant = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.IntegerField()
    body = models.TextField()
    headers = models.TextField(default="{}")
    created_at = models.DateTimeField(db_index=True)
