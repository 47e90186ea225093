"""The engine's exceptions: one root, structured fields, no message parsing.

Every error names the invariant or rule it guards; the HTTP layer maps `code`
to a problem+json `type` and copies `details()` into the response.
"""

from __future__ import annotations

from typing import Any


class TrancheError(Exception):
    """Root of every refusal the engine makes. Nothing was written when it is raised."""

    code = "tranche_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def details(self) -> dict[str, Any]:
        return dict(self.fields)


class ValidationError(TrancheError):
    """An input is malformed: the command never reached the domain rules."""

    code = "validation"


class InvalidAmountError(ValidationError):
    """Invariant 1: amounts are positive whole minor units of the right currency."""

    code = "invalid_amount"


class UnknownCurrencyError(ValidationError):
    """Invariant 1: only ISO 4217 currencies exist here."""

    code = "unknown_currency"


class CurrencyMismatchError(ValidationError):
    """Invariant 1: amounts in different currencies are never combined."""

    code = "currency_mismatch"


class NotFoundError(TrancheError):
    """The contract, milestone or other record does not exist (for this tenant)."""

    code = "not_found"


class ExceedsAgreedError(ValidationError):
    """The milestones of a contract split its agreed amount; they cannot add up to more."""

    code = "exceeds_agreed"


class NotAPartyError(TrancheError):
    """Only the contract's buyer and provider (and staff, and timers) may act on it."""

    code = "not_a_party"


class ForbiddenEventError(TrancheError):
    """The policy does not allow this event, by this actor, in this state.

    Carries the state, the event, the actor's role and the events the actor may
    use instead, so a client can correct itself without guessing.
    """

    code = "forbidden_event"


class UnknownEventError(ForbiddenEventError):
    """The policy has no event of that name at all."""

    code = "unknown_event"


class InsufficientEscrowError(TrancheError):
    """Invariant 3: escrow never goes negative; a release or refund exceeds it."""

    code = "insufficient_escrow"


class ConflictError(TrancheError):
    """Invariant 7: another command changed the record first; nothing was applied."""

    code = "conflict"


class PreconditionFailedError(ConflictError):
    """The command named a version of the milestone that is no longer current."""

    code = "precondition_failed"


class CaseNotLiveError(ConflictError):
    """Invariant 8: staff and parties act only in the milestone's live dispute case; a
    withdrawn, settled or ruled case can never be ruled or decided by default."""

    code = "case_not_live"


class RespondentNotHeardError(TrancheError):
    """Invariant 8, due process: staff move money only after the respondent answered or
    their answer period ran out; `opens_at` says when a ruling becomes possible."""

    code = "respondent_not_heard"


class LedgerError(TrancheError):
    """Invariant 2: postings of one entry must balance, in one currency."""

    code = "ledger_unbalanced"


class PolicyError(TrancheError):
    """A policy document is invalid or unknown; carries the file and the place."""

    code = "policy_invalid"

    def __init__(self, message: str, problems: list[Any] | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.problems = problems or []


class UnsafePolicyError(PolicyError):
    """Invariant 10: no policy is published before the checker proved it safe.

    `violations` are the checker's findings (property, message, state, counterexample,
    the opponent's strategy), as plain data; `result` is the whole check.
    """

    code = "policy_unsafe"

    def __init__(self, message: str, result: Any, **fields: Any) -> None:
        violations = [v.as_dict() for v in result.violations]
        super().__init__(message, violations=violations, **fields)
        self.result = result
        self.violations = violations


class ClockNotForwardError(ConflictError):
    """A sandbox's test clock only moves forward: what happened at a moment stays there."""

    code = "clock_not_forward"


class FundingPendingError(ConflictError):
    """A two-phase funding is open on the milestone: until the rail confirms it, reports it
    failed or it expires, nothing else happens to the milestone."""

    code = "funding_pending"


class FundingMismatchError(ValidationError):
    """The rail's amount or currency differs from what the milestone holds when funded."""

    code = "funding_mismatch"


class DuplicateReferenceError(ConflictError):
    """A rail reference funds, pays out or charges back at most once per tenant."""

    code = "duplicate_reference"


class AlreadySettledError(ConflictError):
    """The funding, payout or chargeback was already settled (confirmed, failed, expired,
    paid, won or lost): it is settled exactly once."""

    code = "already_settled"


class InsufficientBalanceError(TrancheError):
    """A payout or refund may not exceed what is available to the party on the contract."""

    code = "insufficient_balance"


class ReportError(ValidationError):
    """A rail report (or its column mapping) cannot be read: names the file and the line.

    Reconciling stages a report in one transaction, so a bad line changes nothing."""

    code = "report_invalid"
