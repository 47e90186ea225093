"""Who acts: a party of the contract (role derived from it), staff, or the system's timers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from engine.domain.errors import NotAPartyError, ValidationError

STAFF, SYSTEM = "staff", "system"
PARTY_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?")
"""A party id: 1 to 128 printable ASCII characters, no space at either end.

HTTP carries the acting party in the Tranche-Actor header, whose bytes servers
decode as Latin-1: an id outside ASCII could be stored but never named again.
"""


def check_party_id(value: object, name: str) -> str:
    """The id as given if it is one a party can act under, else a ValidationError naming it."""
    if not isinstance(value, str) or PARTY_ID.fullmatch(value) is None:
        raise ValidationError(
            f"{name} must be 1 to 128 printable ASCII characters with no space at either end",
            field=name,
        )
    return value


class Parties(Protocol):
    """What `role_of` reads of a contract."""

    id: str
    buyer_id: str
    provider_id: str


@dataclass(frozen=True, slots=True)
class Actor:
    """`role` is None for a party: the contract says whether they are buyer or provider."""

    id: str
    role: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip() or len(self.id) > 128:
            raise ValidationError("an actor is named by a non-empty id of at most 128 characters")

    @classmethod
    def system(cls) -> Actor:
        return cls("system", SYSTEM)

    @classmethod
    def staff(cls, staff_id: str) -> Actor:
        return cls(staff_id, STAFF)


def role_of(contract: Parties, actor: Actor) -> str:
    """The actor's role on this contract; a stranger is refused."""
    if actor.role in (STAFF, SYSTEM):
        return actor.role
    if actor.id == contract.buyer_id:
        return "buyer"
    if actor.id == contract.provider_id:
        return "provider"
    raise NotAPartyError(
        f"{actor.id!r} is neither the buyer nor the provider of contract {contract.id}",
        actor=actor.id,
        contract_id=contract.id,
    )
