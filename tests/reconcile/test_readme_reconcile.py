"""The README's reconciliation story, run exactly as it stands there, with bash."""

from __future__ import annotations

from pathlib import Path

from test_readme_walkthrough import script_output


def test_the_reconciliation_story_runs_as_the_readme_says(tmp_path: Path) -> None:
    assert script_output("### Reconcile with the rail's report", tmp_path) == [
        "exit code 1",
        "line 3: amount_differs: funding pi_2: rail 30001 USD, tranche 30000 USD (confirmed)",
        "1 difference(s)",
        '{"replayed":true,"summary":[{"outcome":"amount_differs","count":1,"fees":870},'
        '{"outcome":"matched","count":1,"fees":755},{"outcome":"not_tracked","count":1,"fees":0}]}',
    ]
