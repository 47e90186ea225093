"""`tranche statement`: CSV to stdout or a file, PDF to a file; a bad argument is named."""

from __future__ import annotations

import pypdfium2 as pdfium
from click.testing import CliRunner

from statements.conftest import tell_story
from web.cli import main
from web.statements.table import as_csv


def invoke(database, *args: str):
    return CliRunner().invoke(
        main, ["--database-url", database.url, "statement", *args], catch_exceptions=False
    )


def test_csv_to_stdout_and_pdf_to_a_file(database, tranche, clock, tmp_path) -> None:
    story = tell_story(tranche, clock, tenant="acme")
    printed = invoke(database, story.contract_id)
    assert printed.exit_code == 0, printed.output
    assert printed.stdout_bytes == as_csv(tranche.statement(story.contract_id)).encode()
    target = tmp_path / "statement.pdf"
    written = invoke(
        database,
        story.contract_id,
        "--format",
        "pdf",
        "--output",
        str(target),
        "--party",
        "buyer",
        "--tenant",
        "acme",
    )
    assert written.exit_code == 0, written.output
    assert written.output == f"wrote {target}: 14 movement(s) of contract {story.contract_id}\n"
    document = pdfium.PdfDocument(target.read_bytes())
    try:
        assert len(document) == 2
        assert "Prepared for buyer-1 (buyer)" in document[0].get_textpage().get_text_range()
    finally:
        document.close()
    as_file = invoke(database, story.contract_id, "--output", str(tmp_path / "s.csv"))
    assert as_file.exit_code == 0
    assert (tmp_path / "s.csv").read_bytes() == printed.stdout_bytes


def test_a_bad_argument_is_named_and_nothing_is_written(database, tranche, clock, tmp_path):
    contract = tranche.create_contract(
        buyer_id="a", provider_id="b", currency="EUR", agreed_amount=1, title="t", tenant="acme"
    ).id
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "out.pdf"
    cases = [
        (["ct_nope", "--output", str(target)], "Invalid value for CONTRACT_ID: no contract"),
        ([contract, "--tenant", "globex"], "Invalid value for CONTRACT_ID: no contract"),
        ([contract, "--format", "pdf"], "Invalid value for --output: a PDF is written to a file"),
        ([contract, "--format", "xml"], "Invalid value for '--format': 'xml' is not one of"),
        ([contract, "--party", "staff"], "Invalid value for '--party': 'staff' is not one of"),
        ([contract, "--output", str(folder)], "Invalid value for '--output': File"),
        (
            [contract, "--output", str(folder / "missing" / "out.csv")],
            f"Invalid value for --output: cannot write {folder / 'missing' / 'out.csv'}",
        ),
    ]
    for args, message in cases:
        result = invoke(database, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert list(folder.iterdir()) == []
