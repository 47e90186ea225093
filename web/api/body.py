"""The shape of a request, checked before any view reads it: JSON depth, numbers, text.

A view's schema checks what each field means; this checks what no field may be,
whatever the view: JSON nested deeper than `MAX_DEPTH` (Python's decoder would
recurse until it fails), a number too long for Python to convert, a NUL (which
PostgreSQL's text columns refuse) or a lone surrogate (which no encoding can store)
in any string. The request's size is bounded before this by MAX_CONTENT_LENGTH.
"""

from __future__ import annotations

import json
import re
from typing import Any

from web.api.problems import ProblemError

MAX_DEPTH = 32
"""Far deeper than any body of /v1 (the deepest, a contract with milestones, is 3)."""
FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
"""NUL, and the halves of surrogate pairs that JSON's \\u escapes can send alone."""


def check_json_body(data: bytes) -> None:
    """Parse `data` as a view would, refusing what no view should receive."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise _too_deep() from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProblemError("malformed_request", "the body is not valid JSON") from None
    except ValueError as exc:  # Python's limit on converting long digit strings to int
        raise ProblemError(
            "malformed_request", f"a number in the body is too long: {exc}"
        ) from None
    _walk(value)


def has_forbidden_text(value: str) -> bool:
    return FORBIDDEN.search(value) is not None


def check_text(name: str, value: str) -> None:
    """Refuse a NUL or lone surrogate in a header or field, naming it."""
    if has_forbidden_text(value):
        raise ProblemError(
            "validation",
            f"{name} contains a NUL or an unpaired surrogate character",
            errors={name: ["Contains a NUL or an unpaired surrogate character."]},
        )


def _too_deep() -> ProblemError:
    return ProblemError("malformed_request", f"the JSON is nested deeper than {MAX_DEPTH} levels")


def _walk(value: Any) -> None:
    """Depth and strings of every member, without recursion (the body is at most a MiB)."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        place, item, depth = stack.pop()
        if isinstance(item, str):
            check_text(place or "_body", item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise _too_deep()
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    check_text(f"{place}.{key}" if place else key, key)
                where = f"{place}.{key}" if isinstance(key, str) else f"{place}[{key}]"
                stack.append((where.lstrip("."), child, depth + 1))
