"""The README's sandbox story, run exactly as it stands there, with bash."""

from __future__ import annotations

from pathlib import Path

from test_readme_walkthrough import script_output


def test_the_sandbox_story_runs_as_the_readme_says(tmp_path: Path) -> None:
    assert script_output("### A sandbox with a test clock", tmp_path) == [
        '{"state":"submitted","next":"review_period_elapsed"}',
        '[{"event":"review_period_elapsed","outcome":"approved"}]',
        '{"state":"approved","paid_to_date":25000}',
        '{"status":"failed","failure_reason":"account_closed"}',
        '{"available":23750,"in_flight":0}',
        '{"amount":25000,"from_escrow":0,"from_available":23750,"from_pending":0,'
        '"provider_debt":0,"platform_loss":1250,"from_provider":23750}',
        '{"status":403,"code":"test_mode_only"}',
    ]
