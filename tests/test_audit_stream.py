"""`tranche audit verify` a chunk of contracts at a time: scopes, a checkpoint that makes
it incremental, and faults named as they are found (engine.store.audit)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from test_audit import forge

from conftest import BUYER, PROVIDER
from engine.store.audit import Fault, Scope, verify
from web.cli import main


@pytest.fixture
def contracts(tranche, clock):
    """Three contracts a day apart, each with a milestone funded, submitted and approved."""
    made = []
    for n in range(3):
        contract = tranche.create_contract(
            buyer_id=BUYER.id,
            provider_id=PROVIDER.id,
            currency="USD",
            agreed_amount=100_000,
            title=f"Work {n}",
        )
        milestone = tranche.add_milestone(contract.id, title="Part", amount=25_000)
        for event, actor in (("fund", BUYER), ("submit", PROVIDER), ("approve", BUYER)):
            tranche.fire(milestone.id, event, actor)
        made.append(contract.id)
        clock.advance(timedelta(days=1))
    return made


def faults(tranche, **kw) -> list[Fault]:
    return list(verify(tranche.database, chunk=1, **kw))


def event_id(tranche, contract_id: str, seq: int) -> int:
    return next(e.id for e in tranche.events_of(contract_id) if e.seq == seq)


def test_each_chunk_is_checked_and_counted(tranche, contracts):
    seen: list[int] = []
    assert list(verify(tranche.database, chunk=2, progress=seen.append)) == []
    assert seen == [2, 1]


ONE_MORE_CENT = (
    "INSERT INTO postings (entry_id, contract_id, milestone_id, account, amount, currency)"
    " SELECT entry_id, contract_id, milestone_id, account, 1, currency FROM postings"
    " WHERE contract_id = :c LIMIT 1"
)


def test_every_kind_of_fault_is_named_with_its_contract(tranche, contracts):
    first, second, third = contracts
    forge(tranche, f"UPDATE events SET amount = 1 WHERE id = {event_id(tranche, first, 3)}")
    with tranche.database.engine.begin() as connection:
        if tranche.database.is_postgres:  # past the deferred check that entries balance
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(ONE_MORE_CENT), {"c": second})
        connection.execute(
            text("UPDATE milestones SET released = 1 WHERE contract_id = :c"), {"c": third}
        )
    found = {(f.kind, f.contract_id) for f in faults(tranche)}
    assert {("TAMPERED", first), ("UNBALANCED", second), ("MISMATCH", third)} <= found


def test_an_event_cut_from_the_end_of_a_chain_is_found(tranche, contracts):
    """No link breaks when the last event goes; the contract's head still names it."""
    contract = contracts[1]
    last = tranche.events_of(contract)[-1]
    forge(tranche, f"DELETE FROM events WHERE id = {last.id}")
    (found,) = faults(tranche)
    assert found.contract_id == contract
    assert f"its head is event #{last.seq}, its chain ends at #{last.seq - 1}" in found.detail


def test_a_scope_picks_one_contract_or_a_window(tranche, contracts, clock, database):
    first, second, _ = contracts
    forge(tranche, f"UPDATE events SET amount = 1 WHERE id = {event_id(tranche, first, 3)}")
    assert faults(tranche, scope=Scope(contract_id=second)) == []
    assert [f.contract_id for f in faults(tranche, scope=Scope(contract_id=first))] == [first]
    start = tranche.events_of(first)[0].created_at
    day = timedelta(days=1)
    assert [f.contract_id for f in faults(tranche, scope=Scope(until=start + day))] == [first]
    assert faults(tranche, scope=Scope(since=start + day)) == []
    checked: list[int] = []
    list(verify(database, Scope(since=start + day, until=start + 2 * day), progress=checked.append))
    assert checked == [1]  # only the second contract had events that day


def test_a_checkpoint_verifies_only_what_moved_since(tranche, contracts, tmp_path):
    checkpoint = tmp_path / "audit.ckpt"
    first, second, third = contracts
    assert faults(tranche, checkpoint=checkpoint) == []
    # An old event of an unmoved contract: the incremental run trusts its mark,
    # a full run still finds it.
    forge(tranche, f"UPDATE events SET amount = 1 WHERE id = {event_id(tranche, first, 2)}")
    checked: list[int] = []
    assert list(verify(tranche.database, checkpoint=checkpoint, progress=checked.append)) == []
    assert [f.contract_id for f in faults(tranche)] == [first]
    # A contract that moved is checked from its mark: new events, and the marked one.
    milestone = tranche.add_milestone(second, title="More", amount=1_000)
    tranche.fire(milestone.id, "fund", BUYER)
    assert faults(tranche, checkpoint=checkpoint) == []
    tranche.fire(milestone.id, "submit", PROVIDER)
    marked = tranche.events_of(second)[-2]
    forge(tranche, f"UPDATE events SET amount = 2 WHERE id = {marked.id}")
    (found,) = faults(tranche, checkpoint=checkpoint)
    assert (found.contract_id, found.kind) == (second, "TAMPERED")
    assert "altered after an earlier audit verified it" in found.detail
    # A chain cut back behind its mark, head and all, is found though no link breaks.
    events = tranche.events_of(third)
    forge(tranche, f"DELETE FROM events WHERE id = {events[-1].id}")
    with tranche.database.engine.begin() as connection:
        connection.execute(
            text("UPDATE contracts SET event_seq = :s, last_event_hash = :h WHERE id = :c"),
            {"s": events[-2].seq, "h": events[-2].hash, "c": third},
        )
    assert {f.contract_id for f in faults(tranche, checkpoint=checkpoint)} == {second, third}


def test_the_command_takes_scope_and_checkpoint(tranche, contracts, tmp_path):
    url = tranche.database.url
    checkpoint = str(tmp_path / "audit.ckpt")
    run = CliRunner().invoke
    ok = run(main, ["--database-url", url, "audit", "verify", "--checkpoint", checkpoint])
    assert ok.exit_code == 0, ok.output
    assert "audit ok" in ok.output
    assert "contracts" not in ok.output  # no progress bar when stderr is not a terminal
    forge(tranche, f"UPDATE events SET amount = 1 WHERE id = {event_id(tranche, contracts[0], 3)}")
    args = ["--database-url", url, "audit", "verify", "--since", "2026-11-25T00:00:00Z"]
    assert run(main, args).exit_code == 0  # the forged contract's events are all older
    bad = run(main, ["--database-url", url, "audit", "verify", "--contract", contracts[0]])
    assert bad.exit_code == 1
    assert f"TAMPERED: contract {contracts[0]}" in bad.output
