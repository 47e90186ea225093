"""Read policy documents from YAML, reporting every problem with its file and line."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml
from marshmallow import ValidationError as SchemaError

import policies
from engine.domain.errors import PolicyError
from engine.domain.policy.document import (
    CHARGEBACK_SOURCES,
    EffectRef,
    Policy,
    StateSpec,
    TimerSpec,
    TransitionSpec,
)
from engine.domain.policy.schema import PolicySchema, cross_reference, flatten

BUNDLED = Path(policies.__file__).resolve().parent
"""The `policies` package holds the bundled documents only: what policy authors edit."""
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
MAX_BYTES = 256 * 1024
"""A policy is a few kilobytes; this leaves room for long descriptions, not for a flood."""
MAX_DEPTH = 20
"""Nesting of mappings and lists; a policy needs 6 (a transition's effect's parameters)."""


@dataclass(frozen=True, slots=True)
class DocumentProblem:
    """One thing wrong with a policy document, where a person can find it."""

    file: str
    line: int | None
    place: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.place}: {self.message}"


def bundled_policy_files() -> list[Path]:
    """The policy documents shipped in `policies/`, in name order."""
    return sorted(BUNDLED.glob("*.yaml"))


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a value it cannot build is a YAMLError at its line.

    Building a scalar can raise plain ValueError (a 5,000-digit int, the date
    2026-13-45); that becomes a ConstructorError carrying the node's position.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from None


def load_policy_file(path: str | Path) -> Policy:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            _refuse(DocumentProblem(str(path), None, "(file)", _too_large(size)))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"{path}: cannot read: {exc}", [DocumentProblem(str(path), None, "(file)", str(exc))]
        ) from None
    return load_policy_text(text, str(path))


def load_policy_text(text: str, source: str = "<memory>") -> Policy:
    """Parse, validate and cross-check one document; raise PolicyError listing all problems."""
    if len(text.encode()) > MAX_BYTES:
        _refuse(DocumentProblem(source, None, "(file)", _too_large(len(text.encode()))))
    try:
        _check_shape(text, source)
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        _refuse(DocumentProblem(source, line, "(syntax)", str(getattr(exc, "problem", exc))))
    if not isinstance(data, dict):
        problem = DocumentProblem(
            source, 1, "(document)", "a policy is a mapping of keys to values"
        )
        raise PolicyError(str(problem), [problem])
    found = _duplicate_keys(root, source)
    try:
        doc = PolicySchema().load(data)
    except SchemaError as exc:
        found += [_problem(root, source, p, m) for p, m in flatten(exc.messages)]
    else:
        found += [_problem(root, source, p, m) for p, m in cross_reference(doc)]
    if found:
        raise PolicyError("\n".join(map(str, found)), found, file=source)
    return _build(doc, text, source)


def _refuse(problem: DocumentProblem) -> NoReturn:
    raise PolicyError(str(problem), [problem])


def _too_large(size: int) -> str:
    return f"the document is {size} bytes; a policy is at most {MAX_BYTES} bytes"


def _check_shape(text: str, source: str) -> None:
    """Walk the parser's events (no recursion, no expansion) before anything is built.

    Aliases are refused outright: a policy never needs one, and an alias bomb
    (each level naming the previous one ten times) costs nothing to parse but
    grows exponentially once walked. Depth is bounded because PyYAML composes
    nested nodes recursively.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark else None
        name = getattr(event, "anchor", None)  # an alias event's anchor is the name it uses
        if name:
            _refuse(
                DocumentProblem(
                    source,
                    line,
                    "(yaml)",
                    f"anchors and aliases (&{name}, *{name}) are not allowed",
                )
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                _refuse(
                    DocumentProblem(
                        source, line, "(yaml)", f"nested deeper than {MAX_DEPTH} levels"
                    )
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _build(doc: dict[str, Any], text: str, source: str) -> Policy:
    params = doc["parameters"]
    return Policy(
        name=doc["name"],
        version=doc["version"],
        description=doc["description"].strip(),
        states=tuple(StateSpec(**s) for s in doc["states"]),
        transitions=tuple(
            TransitionSpec(
                index=i,
                event=t["event"],
                sources=tuple(t["from_"]),
                target=t["to"],
                actors=tuple(t["actors"]),
                guards=tuple(t["guards"]),
                effects=tuple(EffectRef(n, tuple(sorted(p.items()))) for n, p in t["effects"]),
                notify=tuple(t["notify"]),
                description=t["description"],
            )
            for i, t in enumerate(doc["transitions"])
        ),
        timers=tuple(TimerSpec(**t) for t in doc["timers"]),
        revision_limit=params.get("revision_limit", 0),
        platform_fee_bps=params.get("platform_fee_bps", 0),
        dispute_response=params.get("dispute_response"),
        dispute_default_outcome=params.get("dispute_default_outcome", "staff"),
        payout_hold=params.get("payout_hold"),
        chargeback_order=tuple(params.get("chargeback_order", CHARGEBACK_SOURCES)),
        source=source,
        text=text,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )


def _problem(root: yaml.Node | None, source: str, place: str, message: str) -> DocumentProblem:
    return DocumentProblem(source, _line_of(root, place), place, message)


def _line_of(node: yaml.Node | None, place: str) -> int | None:
    """The 1-based line of `place` (like `transitions[3].to`), or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key, index in _TOKEN.findall(place):
        child = None
        if key and isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == key), None)
            if child is None:  # a missing key: point at the mapping that lacks it
                return line
            line = next(k for k, v in node.value if k.value == key).start_mark.line + 1
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            child = node.value[int(index)]
            line = child.start_mark.line + 1
        if child is None:
            return line
        node = child
    return line


def _duplicate_keys(node: yaml.Node | None, source: str, place: str = "") -> list[DocumentProblem]:
    """YAML silently keeps the last of two equal keys; a policy author never means that."""
    found: list[DocumentProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            sub = f"{place}.{key.value}" if place else str(key.value)
            if key.value in seen:
                found.append(
                    DocumentProblem(source, key.start_mark.line + 1, sub, "key given twice")
                )
            seen.add(key.value)
            found += _duplicate_keys(value, source, sub)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, source, f"{place}[{i}]")
    return found
