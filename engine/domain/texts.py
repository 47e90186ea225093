"""Text that people type (titles, reasons, statements, notes): one check for all of it."""

from __future__ import annotations

from engine.domain.errors import ValidationError


def check_text(value: object, name: str, limit: int, required: bool = True) -> str:
    """The text, trimmed; a missing optional text is ""; too long or (if required) blank
    is a ValidationError naming the field."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(f"{name} must be a non-empty text", field=name)
    if len(value) > limit:
        raise ValidationError(f"{name} must be at most {limit} characters", field=name)
    return value.strip()
