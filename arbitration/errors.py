"""Arbitration's refusals: one root below the engine's, each with a stable `code`."""

from __future__ import annotations

from engine.domain.errors import ConflictError, NotFoundError, TrancheError, ValidationError


class ArbitrationError(TrancheError):
    """Root of the refusals made by arbitration rules (nothing was written)."""

    code = "arbitration"


class DisputeClosedError(ConflictError):
    """The dispute is already settled, ruled, withdrawn or decided by default."""

    code = "dispute_closed"


class DisputeNotFoundError(NotFoundError):
    """No such dispute, ruling, offer or evidence (for this party)."""

    code = "not_found"


class StaleCaseError(ConflictError):
    """The case changed since the staff member's page was loaded: nothing was done.

    Carries the version the page showed, the current one, and `change`, what happened
    last (who, what, when), so the page can say "taken by sam@example.com at 10:02".
    """

    code = "stale_case"


class EvidenceRejectedError(ValidationError):
    """A file is too large, empty, or not one of the accepted types (checked by content)."""

    code = "evidence_rejected"


class EvidenceQuotaError(EvidenceRejectedError):
    """The dispute, or its tenant, already holds as much evidence as the settings allow."""

    code = "evidence_quota"


class StaffForbiddenError(ArbitrationError):
    """The staff member's role or assignment does not allow this action."""

    code = "staff_forbidden"


class SelfApprovalError(StaffForbiddenError):
    """Two-person rule: nobody approves their own ruling."""

    code = "self_approval"


class LoginRefusedError(ArbitrationError):
    """Wrong email or password, or an inactive account (never says which)."""

    code = "login_refused"


class LoginThrottledError(LoginRefusedError):
    """Too many failed logins on this account: wait until `retry_after`."""

    code = "login_throttled"
