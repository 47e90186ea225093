"""The notice outbox over SMTP: `tranche notices send`.

Each due notice is leased in one short transaction (its next attempt moved past the
lease, so a second sender passes it over) together with a fresh link to the party's
page; the mail goes out with no transaction open; a second transaction stamps the
outcome: `sent_at` when the SMTP conversation began, `delivered_at` when the server
accepted the message, or the failure and the next attempt (backoff doubling from 30 s
to an hour; a permanent refusal, or the tenth failure, ends it as `failed`).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from functools import partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from engine.service import parties
from engine.service.milestones import view_milestone
from engine.service.tranche import Service
from engine.service.uow import UnitOfWork
from engine.store import notices
from engine.store.models import Contract, Milestone
from engine.store.notice_models import Notice, PartyContact
from web.party.page import Formatter

LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 10
LINK_LIFETIME = timedelta(days=14)
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "party"),
    autoescape=False,  # a text/plain mail; nothing here is HTML
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    public_url: str
    default_from: str
    timeout: float = 10.0


@dataclass(frozen=True)
class Outcome:
    notice_id: int
    to: str
    status: str
    error: str | None = None


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 1 min, 2 min, ... at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LAST_RETRY)


def _lease(
    uow: UnitOfWork, settings: MailSettings, now: datetime
) -> tuple[int, EmailMessage] | None:
    """Claim the next due notice and write its mail (with a fresh link to the page)."""
    found = notices.due(uow.session, now, 1, uow.database.is_postgres)
    if not found:
        return None
    notice = found[0]
    notice.email_next_at = now + LEASE
    contract = uow.session.get(Contract, notice.contract_id)
    contact = uow.session.get(PartyContact, (notice.contract_id, notice.role))
    assert contract is not None
    locale = contact.locale if contact else "en"
    zone = contact.time_zone if contact else "UTC"
    _, token = parties.mint_link(
        uow,
        contract.tenant,
        contract.id,
        notice.role,
        lifetime=LINK_LIFETIME,
        locale=locale,
        time_zone=zone,
    )
    fmt = Formatter(locale, zone, contract.currency)
    milestone = uow.session.get(Milestone, notice.milestone_id) if notice.milestone_id else None
    deadline = view_milestone(uow, milestone.id).next_deadline if milestone else None
    sender = parties.settings_of(uow, contract.tenant)["mail_from"] or settings.default_from
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notice.email_to
    what = notice.event_type.replace("_", " ")
    message["Subject"] = f"{contract.title}: {what}"
    message["Message-ID"] = make_msgid(idstring=f"notice-{notice.id}")
    message.set_content(
        _TEMPLATES.get_template("notice_email.txt").render(
            notice=notice,
            contract=contract,
            milestone=milestone,
            what=what,
            deadline=deadline,
            fmt=fmt,
            url=f"{settings.public_url.rstrip('/')}/p/{token}",
        )
    )
    return notice.id, message


def _send(message: EmailMessage, settings: MailSettings) -> str | None:
    """None when the server accepted the message, else a short error code."""
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.send_message(message)
        return None
    except smtplib.SMTPRecipientsRefused:
        return "recipient_refused"
    except smtplib.SMTPResponseException as exc:
        return f"smtp_{exc.smtp_code}"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "connection_refused"
    except (OSError, smtplib.SMTPException):
        return "network"


def _stamp(
    uow: UnitOfWork, notice_id: int, began: datetime, error: str | None, now: datetime
) -> str:
    notice = uow.session.get(Notice, notice_id)
    assert notice is not None
    notice.email_attempts += 1
    notice.sent_at = notice.sent_at or began
    if error is None:
        notice.email_status, notice.delivered_at, notice.email_next_at = (
            notices.DELIVERED,
            now,
            None,
        )
        notice.email_error = None
    else:
        permanent = error == "recipient_refused" or error.startswith("smtp_5")
        notice.email_error = error
        if permanent or notice.email_attempts >= MAX_ATTEMPTS:
            notice.email_status, notice.email_next_at = notices.FAILED, None
        else:
            notice.email_next_at = now + backoff(notice.email_attempts)
    return notice.email_status


def send_due(service: Service, settings: MailSettings, limit: int = 100) -> list[Outcome]:
    """Send what is due now, one notice at a time; return what happened to each."""
    outcomes: list[Outcome] = []
    while len(outcomes) < limit:
        leased = service.write(partial(_lease, settings=settings, now=service.clock.now()))
        if leased is None:
            break
        notice_id, message = leased
        began = service.clock.now()
        error = _send(message, settings)
        stamp = partial(_stamp, notice_id=notice_id, began=began, error=error)
        status = service.write(lambda uow, stamp=stamp: stamp(uow, now=service.clock.now()))
        outcomes.append(Outcome(notice_id, str(message["To"]), status, error))
    return outcomes
