"""Party links and page settings: who may open which party's page, and how it looks.

A link is scoped to (tenant, contract, role); its token is 256 random bits shown once
and stored only as its SHA-256, so it cannot be guessed and a leaked database opens no
page. Every use checks expiry and revocation afresh: a revoked link stops at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from sqlalchemy import select

from engine.domain.errors import NotFoundError, ValidationError
from engine.service.contracts import get_contract
from engine.service.uow import UnitOfWork
from engine.store.models import new_id
from engine.store.notice_models import PartyContact, PartyLink, PartySettings

ROLES = ("buyer", "provider")
DEFAULT_LIFETIME = timedelta(days=30)
LONGEST_LIFETIME = timedelta(days=90)
SHORTEST_LIFETIME = timedelta(minutes=1)
MAX_ORIGINS = 20
_EMAIL = re.compile(r"[^@\s<>\"',;:\\]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_LOCALE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9_+-]{1,30}){0,2}")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
THEME_KEYS = ("accent", "background", "text")
"""The CSS variables a tenant may set (as #rrggbb): --party-accent, --party-bg, --party-ink."""


class LinkRefusedError(NotFoundError):
    """A token that opens nothing: unknown, expired or revoked (reason says which)."""

    code = "link_refused"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_locale(value: object) -> str:
    if not isinstance(value, str) or _LOCALE.fullmatch(value) is None:
        raise ValidationError("a locale is a tag such as en, en_US or de-CH", field="locale")
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        raise ValidationError(f"unknown locale {value!r}", field="locale") from None


def check_time_zone(value: object) -> str:
    message = "a time zone is an IANA name such as Europe/Berlin or UTC"
    if not isinstance(value, str) or _ZONE.fullmatch(value) is None:
        raise ValidationError(message, field="time_zone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {value!r}", field="time_zone") from None
    return value


def check_email(value: object, field: str = "email") -> str:
    if not isinstance(value, str) or len(value) > 254 or _EMAIL.fullmatch(value) is None:
        raise ValidationError("not an email address (name@example.com)", field=field)
    return value


def check_role(value: object) -> str:
    if value not in ROLES:
        raise ValidationError("role is buyer or provider", field="role")
    return str(value)


def mint_link(
    uow: UnitOfWork,
    tenant: str,
    contract_id: str,
    role: str,
    *,
    lifetime: timedelta = DEFAULT_LIFETIME,
    locale: str = "en",
    time_zone: str = "UTC",
    email: str | None = None,
) -> tuple[PartyLink, str]:
    """A new link for one party; the token is returned once. An email given becomes where
    that party's notices are mailed."""
    contract = get_contract(uow, contract_id, tenant)
    role = check_role(role)
    if not SHORTEST_LIFETIME <= lifetime <= LONGEST_LIFETIME:
        raise ValidationError("a link lives from 60 seconds to 90 days", field="expires_in")
    locale, time_zone = check_locale(locale), check_time_zone(time_zone)
    now = uow.clock.now()
    token = "tp_" + secrets.token_urlsafe(32)
    link = PartyLink(
        id=new_id("pl"),
        tenant=contract.tenant,
        contract_id=contract.id,
        role=role,
        token_hash=token_digest(token),
        locale=locale,
        time_zone=time_zone,
        created_at=now,
        expires_at=now + lifetime,
        revoked_at=None,
    )
    uow.session.add(link)
    if email is not None:
        contact = uow.session.get(PartyContact, (contract.id, role))
        if contact is None:
            contact = PartyContact(contract_id=contract.id, role=role)
            uow.session.add(contact)
        contact.email, contact.locale, contact.time_zone = check_email(email), locale, time_zone
        contact.updated_at = now
    uow.session.flush()
    return link, token


def links_of(uow: UnitOfWork, tenant: str, contract_id: str) -> list[PartyLink]:
    get_contract(uow, contract_id, tenant)
    query = select(PartyLink).where(PartyLink.contract_id == contract_id)
    return list(uow.session.scalars(query.order_by(PartyLink.created_at, PartyLink.id)))


def revoke_link(uow: UnitOfWork, tenant: str, link_id: str) -> PartyLink:
    link = uow.session.get(PartyLink, link_id) if isinstance(link_id, str) else None
    if link is None or link.tenant != tenant:
        raise NotFoundError(f"no party link {link_id!r}", link_id=link_id)
    if link.revoked_at is None:
        link.revoked_at = uow.clock.now()
    return link


def open_link(uow: UnitOfWork, token: str) -> PartyLink:
    """The link a token names, if it still opens its page now."""
    link = None
    if isinstance(token, str) and token.startswith("tp_") and len(token) <= 64:
        query = select(PartyLink).where(PartyLink.token_hash == token_digest(token))
        link = uow.session.scalars(query).first()
    if link is None:
        raise LinkRefusedError("this link is not known", reason="unknown")
    if link.revoked_at is not None:
        raise LinkRefusedError("this link was revoked", reason="revoked")
    if link.expires_at <= uow.clock.now():
        raise LinkRefusedError("this link has expired", reason="expired")
    return link


def settings_of(uow: UnitOfWork, tenant: str) -> dict[str, Any]:
    row = uow.session.get(PartySettings, tenant)
    if row is None:
        return {"mail_from": None, "embed_origins": [], "theme": {}}
    return {
        "mail_from": row.mail_from,
        "embed_origins": row.embed_origins.split(),
        "theme": json.loads(row.theme),
    }


def save_settings(
    uow: UnitOfWork,
    tenant: str,
    *,
    mail_from: str | None,
    embed_origins: list[str],
    theme: dict[str, str],
) -> dict[str, Any]:
    """Replace the tenant's page settings, each value checked (they end up in headers)."""
    if mail_from is not None:
        check_email(mail_from, "mail_from")
    if len(embed_origins) > MAX_ORIGINS or not all(
        isinstance(o, str) and _ORIGIN.fullmatch(o) for o in embed_origins
    ):
        raise ValidationError(
            f"up to {MAX_ORIGINS} origins such as https://market.example (no path)",
            field="embed_origins",
        )
    for key, value in theme.items():
        if key not in THEME_KEYS or not isinstance(value, str) or not _COLOUR.fullmatch(value):
            raise ValidationError(
                f"theme takes {', '.join(THEME_KEYS)} as #rrggbb colours", field="theme"
            )
    row = uow.session.get(PartySettings, tenant)
    if row is None:
        row = PartySettings(tenant=tenant)
        uow.session.add(row)
    row.mail_from = mail_from
    row.embed_origins = " ".join(dict.fromkeys(embed_origins))
    row.theme = json.dumps(theme, sort_keys=True)
    row.updated_at = uow.clock.now()
    uow.session.flush()
    return settings_of(uow, tenant)
