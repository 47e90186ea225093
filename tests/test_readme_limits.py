"""The README's Limits table stays true: each setting is listed with the default the code uses."""

import json
import re
from pathlib import Path

from arbitration.settings import Settings
from engine.domain.money import MAX_AMOUNT
from engine.domain.policy.loader import MAX_BYTES, MAX_DEPTH
from web.api.body import MAX_DEPTH as JSON_DEPTH

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
LIMITS = README[README.index("### Limits") : README.index("### Party ids")]


def test_every_setting_is_listed_with_its_default(sqlite_database):
    from web.app import create_app

    app = create_app({"DATABASE_URL": sqlite_database.url})
    settings = app.extensions["arbitration"].settings
    assert settings == Settings(evidence_dir=settings.evidence_dir)  # the defaults
    defaults = {
        "TRANCHE_MAX_CONTENT_LENGTH": app.config["MAX_CONTENT_LENGTH"],
        "TRANCHE_MAX_EVIDENCE_BYTES": settings.max_evidence_bytes,
        "TRANCHE_EVIDENCE_PER_DISPUTE": list(settings.evidence_per_dispute),
        "TRANCHE_EVIDENCE_PER_TENANT": list(settings.evidence_per_tenant),
    }
    for name, value in defaults.items():
        assert f"`{name}` (`{json.dumps(value)}`)" in LIMITS, name


def test_the_fixed_limits_are_the_code_s():
    assert f"| {JSON_DEPTH} levels |" in LIMITS
    assert MAX_AMOUNT == 10**15
    assert "1 to 10^15 minor units" in LIMITS
    assert re.search(rf"{MAX_BYTES // 1024} KiB, nesting {MAX_DEPTH} levels", LIMITS)
