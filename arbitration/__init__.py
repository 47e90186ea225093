"""Disputes: statements, evidence, settlement offers, staff rulings, assignment, two-person rule.

Depends on `engine` only; every command works in the caller's unit of work, so the
dispute rows and the milestone transition they cause commit together.
"""
