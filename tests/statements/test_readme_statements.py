"""The README's statement script, run exactly as it stands there, with bash; then the PDF
it leaves is read back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README.split("### Statements for the parties", 1)[1].split("\n### ", 1)[0]


def blocks() -> tuple[str, list[str]]:
    """The script, and the lines the README says it prints."""
    script = SECTION.split("```sh\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    printed = SECTION.split("It prints", 1)[1].split("```\n", 1)[1].split("\n```", 1)[0]
    return script, printed.splitlines()


def normalise(line: str) -> str:
    line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "<date>", line)
    return re.sub(r"\bct_[0-9a-f]+", "ct_<id>", line)


def test_the_statement_script_runs_as_the_readme_says(tmp_path: Path) -> None:
    script, expected = blocks()
    path = tmp_path / "statements.sh"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("working in ")
    assert [normalise(line) for line in lines[1:]] == [normalise(line) for line in expected]
    (folder,) = {p.parent for p in tmp_path.glob("*/statement.pdf")}
    for name, party in (
        ("statement.pdf", "provider-lin (provider)"),
        ("for-the-buyer.pdf", "buyer-ada (buyer)"),
    ):
        document = pdfium.PdfDocument((folder / name).read_bytes())
        try:
            text = " ".join(page.get_textpage().get_text_range() for page in document)
        finally:
            document.close()
        assert f"Prepared for {party}" in text
        assert "Statement: Shop redesign, four milestones" in text
        assert "Remaining 4,800.00 USD" in " ".join(text.split())
