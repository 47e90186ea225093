"""Disputes: statements, evidence, settlement offers, staff rulings, assignment, two-person rule.

Depends on `engine` only; every command works in the caller's unit of work, so the
dispute rows and the milestone transition they cause commit together.
"""

from arbitration import disputes as _disputes  # noqa: E402,F401  (closing a case lapses its offers)
