"""`tranche reconcile`: each planted difference found, per contract and milestone, on both
databases; the same file again changes nothing; exit codes say whether anything differs."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import BUYER, PROVIDER
from engine.service.fundings import Charge
from engine.store.reconciliation import RailReport, RailReportLine
from reconcile.story import LINES, report, story
from web.cli import main


def reconcile(database, *args: str):
    command = ["--database-url", database.url, "reconcile", *args]
    return CliRunner().invoke(main, command, catch_exceptions=False)


def counts(database) -> tuple[int, int]:
    with database.session() as session:
        reports = session.scalar(select(func.count()).select_from(RailReport))
        lines = session.scalar(select(func.count()).select_from(RailReportLine))
    return reports, lines


def test_every_kind_of_difference_is_found_per_contract_and_milestone(tranche, database, tmp_path):
    told = story(tranche)
    path = report(tmp_path)
    done = reconcile(database, str(path), "--tenant", "default", "--format", "json")
    assert done.exit_code == 1, done.output
    found = json.loads(done.stdout)
    assert (found["source"], found["lines"], found["replayed"]) == ("stripe", 8, False)
    outcomes = {(d["line"], d["outcome"], d["reference"]) for d in found["differences"]}
    assert outcomes == {
        (3, "amount_differs", "pi_2"),
        (5, "status_differs", "pi_4"),
        (6, "missing_in_tranche", "ch_9"),
        (9, "currency_differs", "pi_5"),
        (None, "missing_in_rail", "pi_3"),
    }
    missing = next(d for d in found["differences"] if d["outcome"] == "missing_in_rail")
    assert (missing["tranche_amount"], missing["milestone_id"]) == (20_000, told.milestones[2])
    pending = next(d for d in found["differences"] if d["outcome"] == "status_differs")
    assert (pending["tranche_status"], pending["contract_id"]) == ("pending", told.contract_id)
    groups = {(g["contract_id"], g["milestone_id"], g["currency"]): g for g in found["groups"]}
    first = groups[(told.contract_id, told.milestones[0], "USD")]
    assert (first["matched"], first["fees"]) == (1, 755)
    assert groups[(told.contract_id, None, "USD")]["matched"] == 1  # the payout tr_1
    second = groups[(told.contract_id, told.milestones[1], "USD")]
    assert (second["matched"], second["amount_differs"], second["fees"]) == (1, 1, 870 + 1500)
    assert groups[(None, None, "USD")]["missing_in_tranche"] == 1
    assert groups[(None, None, "USD")]["not_tracked"] == 1
    summary = {(s["currency"], s["outcome"]): s for s in found["summary"]}
    assert summary[("USD", "matched")]["count"] == 3
    assert summary[("USD", "matched")]["rail_amount"] == 25_000 + 23_750 + 30_000
    assert sum(s["fees"] for s in found["summary"]) == 755 + 870 + 320 + 175 + 1500 + 320


def test_the_same_file_again_writes_nothing_and_answers_the_earlier_result(
    tranche, database, tmp_path
):
    story(tranche)
    path = report(tmp_path)
    first = reconcile(database, str(path), "--tenant", "default", "--format", "json")
    before = counts(database)
    again = reconcile(database, str(path), "--tenant", "default", "--format", "json")
    assert counts(database) == before
    earlier, replayed = json.loads(first.stdout), json.loads(again.stdout)
    assert replayed.pop("replayed") is True
    assert earlier.pop("replayed") is False
    assert replayed == earlier
    # Another tenant's import of the same file is its own, and sees only its own records.
    theirs = reconcile(database, str(path), "--tenant", "other", "--format", "json")
    found = json.loads(theirs.stdout)
    assert found["id"] != earlier["id"]
    matched = [g for g in found["groups"] if g["matched"]]
    assert [group["contract_id"] is not None for group in matched] == [True]  # their pi_9
    assert not [d for d in found["differences"] if d["outcome"] == "missing_in_rail"]


def test_a_report_that_matches_exits_zero_and_prints_a_table(tranche, database, tmp_path):
    story(tranche)
    fixed = (LINES[1].replace("300.01", "300.00"), LINES[7].replace("usd", "eur"))
    pi_3 = "txn_9,2026-11-24 08:30:00,usd,200.00,0,200.00,charge,ch_3,pi_3,ch_3,third"
    path = report(tmp_path, (LINES[0], *fixed, LINES[2], LINES[5], LINES[6], pi_3))
    done = reconcile(database, str(path), "--tenant", "default")
    assert done.exit_code == 0, done.output
    assert "no differences" in done.stdout
    assert "matched" in done.stdout


def test_csv_output_has_a_row_per_line_and_per_record_the_rail_lacks(tranche, database, tmp_path):
    story(tranche)
    done = reconcile(database, str(report(tmp_path)), "--tenant", "default", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 10)] + [""]
    assert (rows[0]["outcome"], rows[0]["record_id"][:3]) == ("matched", "fd_")
    assert (rows[-1]["outcome"], rows[-1]["reference"]) == ("missing_in_rail", "pi_3")


def test_a_second_line_for_the_same_record_is_the_rail_moving_it_twice(tranche, database, tmp_path):
    story(tranche)
    twice = (LINES[0], LINES[0].replace("txn_1", "txn_1b"))
    done = reconcile(database, str(report(tmp_path, twice)), "--tenant", "default")
    assert done.exit_code == 1
    assert "line 3: duplicate_in_rail: funding pi_1: rail 25000 USD, tranche 25000" in done.stdout


def test_a_refund_matches_a_refund_to_the_buyer_and_never_a_payout(
    tranche, database, milestone, tmp_path
):
    tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_1", 25_000, "USD"))
    tranche.fire(milestone.id, "request_refund", BUYER)
    tranche.fire(milestone.id, "accept_refund", PROVIDER)
    refund = tranche.record_payout(
        tenant="default",
        contract_id=milestone.contract_id,
        party_id=BUYER.id,
        amount=25_000,
        currency="USD",
        reference="re_1",
    )
    tranche.settle_payout(refund.id, True)
    lines = (
        LINES[0],
        "txn_r,2026-11-24 10:00:00,usd,-250.00,0.00,-250.00,refund,re_1,pi_1,ch_1,refund",
        "txn_t,2026-11-24 11:00:00,usd,-250.00,0.00,-250.00,transfer,re_1,,,not a transfer",
    )
    done = reconcile(
        database, str(report(tmp_path, lines)), "--tenant", "default", "--format", "csv"
    )
    outcomes = [
        (row["line"], row["outcome"], row["kind"])
        for row in csv.DictReader(io.StringIO(done.stdout))
    ]
    assert outcomes == [
        ("2", "matched", "funding"),
        ("3", "matched", "refund"),
        ("4", "missing_in_tranche", "payout"),
    ]


def test_a_generic_csv_with_a_mapping_in_minor_units(tranche, database, milestone, tmp_path):
    tranche.fund_confirmed(milestone.id, "fund", BUYER, Charge("pi_3", 25_000, "USD"))
    path = tmp_path / "bank.csv"
    path.write_text(
        "ref;amt;cur;when;what\n".replace(";", ",")
        + "pi_3,25000,USD,2026-11-24T09:00:00Z,funding\n"
    )
    mapping = "reference=ref,amount=amt,currency=cur,date=when,kind=what"
    done = reconcile(
        database,
        str(path),
        "--tenant",
        "default",
        "--map",
        mapping,
        "--minor-units",
        "--format",
        "json",
    )
    found = json.loads(done.stdout)
    assert done.exit_code == 0, done.output
    assert found["groups"] == [
        {
            "contract_id": milestone.contract_id,
            "milestone_id": milestone.id,
            "currency": "USD",
            "matched": 1,
            **dict.fromkeys(
                ("missing_in_tranche", "missing_in_rail", "amount_differs", "currency_differs")
                + ("status_differs", "duplicate_in_rail", "not_tracked"),
                0,
            ),
            "fees": 0,
        }
    ]


BAD_LINES = {
    "txn_2,2026-11-24 09:00:00,usd,300.001,0,0,charge,ch_2,pi_2,ch_2,x": "3 decimals; USD has 2",
    "txn_2,2026-11-24 09:00:00,jpy,300.5,0,0,charge,ch_2,pi_2,ch_2,x": "has 1 decimals; JPY has 0",
    "txn_2,2026-11-24 09:00:00,usd,12,0,0,charge,,,,x": "a funding without a reference",
    "txn_2,yesterday,usd,12,0,0,charge,ch_2,pi_2,ch_2,x": "'yesterday' is not a date",
    "txn_2,2026-11-24 09:00:00,xyz,12,0,0,charge,ch_2,pi_2,ch_2,x": "'XYZ' is not an ISO 4217",
    "txn_2,2026-11-24 09:00:00,usd,12,0,0,charge,ch_2": "8 fields where the header has 11",
    "txn_2,2026-11-24 09:00:00,usd,twelve,0,0,charge,ch_2,pi_2,ch_2,x": "'twelve' is not a decimal",
}


def test_a_bad_line_is_named_by_file_and_line_and_changes_nothing(database, tmp_path):
    for line, message in BAD_LINES.items():
        path = report(tmp_path, (LINES[0], line))
        done = reconcile(database, str(path), "--tenant", "default")
        assert done.exit_code == 2, line
        assert done.stderr.startswith(f"error: {path}, line 3: ")
        assert message in done.stderr
    assert counts(database) == (0, 0)


def test_bad_files_and_mappings_exit_two_with_the_reason(database, tmp_path):
    def refused(path, *extra: str) -> str:
        done = reconcile(database, str(path), "--tenant", "default", *extra)
        assert done.exit_code == 2, done.output
        return done.stderr

    no_gross = tmp_path / "cut.csv"
    no_gross.write_text(
        "balance_transaction_id,created_utc,currency,fee,reporting_category,source_id\n"
    )
    assert f"error: {no_gross}, line 1: no column 'gross' for amount in the header" in refused(
        no_gross
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "the file is empty" in refused(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"source_id,gross\n\xe9t\xe9,1\n")
    assert "not UTF-8" in refused(latin)
    good = report(tmp_path)
    assert "--map: say which column holds kind" in refused(
        good, "--map", "reference=a,amount=b,currency=c,date=d"
    )
    assert "--map: unknown name 'colour'" in refused(good, "--map", "colour=red")
    assert "--minor-units goes with --map" in refused(good, "--minor-units")
    assert "no column 'ref' for reference" in refused(
        good, "--map", "reference=ref,amount=gross,currency=currency,date=created_utc,kind=x"
    )
    assert counts(database) == (0, 0)
