"""Jinja filters: money in the currency's own decimals, moments as UTC and as 'in 3 days',
and party text in staff's words."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from engine.domain.clock import as_utc
from engine.domain.decision import AWAITING_RESPONSE
from engine.domain.money import Money
from engine.store.models import Dispute
from web.api.views_milestones import NO_REASON


def money(minor: int | None, currency: str) -> str:
    return "—" if minor is None else Money(int(minor), currency).format()


def money_input(minor: int | None, currency: str) -> str:
    """A plain decimal for an input field: 1234.50"""
    if minor is None:
        return ""
    exponent = Money(0, currency).exponent
    whole, frac = divmod(int(minor), 10**exponent)
    return f"{whole}.{frac:0{exponent}d}" if exponent else str(whole)


def utc(moment: datetime | None) -> str:
    return "—" if moment is None else as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    seconds = (as_utc(moment) - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    if span < 3600:
        text = f"{max(1, int(span // 60))} min"
    elif span < 2 * 86400:
        text = f"{int(span // 3600)} h"
    else:
        text = f"{int(span // 86400)} days"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def reason_text(reason: str) -> str:
    """A party's reason as staff should read it: never the API's hint to developers."""
    return "The opener gave no reason." if reason == NO_REASON else reason


def due_reason(dispute: Dispute) -> str:
    if dispute.status == AWAITING_RESPONSE:
        return "The other party's answer deadline"
    return "Review target"


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money, money_input=money_input, utc=utc, exponent=lambda c: Money(0, c).exponent
    )
    app.jinja_env.globals.update(relative=relative, reason_text=reason_text, due_reason=due_reason)
