"""The README's rail story, run exactly as it stands there, with bash."""

from __future__ import annotations

from pathlib import Path

from test_readme_walkthrough import script_output


def test_the_rail_story_runs_as_the_readme_says(tmp_path: Path) -> None:
    assert script_output("## Money in and out: the payment rail", tmp_path) == [
        '{"state":"proposed","pending":25000,"in_escrow":0}',
        '{"status":"confirmed","state":"funded","in_escrow":25000}',
        '{"available":23750,"due":23750}',
        '{"status":"paid"}',
        '{"amount":25000,"from_escrow":0,"from_available":0,"from_pending":0,'
        '"provider_debt":23750,"platform_loss":1250,"from_provider":23750}',
        '{"available":-23750,"debt":23750,"paid_out":23750}',
        '{"state":"funded"}',
        '{"available":4750,"debt":0,"due":4750}',
    ]
