"""`manage.py peer_setup`: the ledger's chart of accounts, and two API keys (two tenants),
printed as JSON {"key": ..., "other": ...}. Run once, after `migrate`."""

import hashlib
import json
import secrets

from django.core.management.base import BaseCommand
from django.utils import timezone
from escrow.ledger import CHART
from escrow.models import ApiKey
from hordak.models import Account
from moneyed import CURRENCIES


def create_key() -> str:
    """A key as Tranche makes them (tr_<id>_<secret>); only its SHA-256 is stored."""
    hexid = secrets.token_hex(8)
    plain = f"tr_{hexid}_{secrets.token_urlsafe(32)}"
    ApiKey.objects.create(
        id=f"key_{hexid}",
        tenant=f"key_{hexid}",
        key_hash=hashlib.sha256(plain.encode()).hexdigest(),
        created_at=timezone.now(),
    )
    return plain


class Command(BaseCommand):
    help = "Create the chart of accounts and two API keys"

    def handle(self, *args, **options) -> None:
        for code, (name, kind) in CHART.items():
            Account.objects.get_or_create(
                code=code, defaults={"name": name, "type": kind, "currencies": sorted(CURRENCIES)}
            )
        self.stdout.write(json.dumps({"key": create_key(), "other": create_key()}))
