"""Who may move the escrow: no unilateral refund, no unilateral release, due process.

Money reaching one party needs the other party's consent in one of the forms
DESIGN.md lists: its own act, an accepted settlement (a transition guarded by
`offer_from_other_party`), a staff ruling after due process, or a deadline it was
told of and could object to. The two unilateral properties are one rule, mirrored.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.domain.policy.explorer import SYSTEM, Config, Edge, Graph
from engine.domain.policy.vocabulary import PARTIES

SETTLEMENT_GUARD = "offer_from_other_party"
STAFF = "staff"

Report = Callable[..., None]
"""report(key, property, message, config, last_edge): one violation, deduplicated by key."""

_SIDES = {
    # property: (the party who loses by the movement, what the movement is called)
    "no_unilateral_refund": ("provider", "back to the buyer"),
    "no_unilateral_release": ("buyer", "to the provider"),
}


def other(party: str) -> str:
    return "provider" if party == "buyer" else "buyer"


def paid_away(edge: Edge, party: str) -> int:
    """How much of the escrow this step sends to the party's counterparty."""
    return edge.releases if party == "buyer" else edge.refunds


def settlement(edge: Edge) -> bool:
    return edge.spec is not None and SETTLEMENT_GUARD in edge.spec.guards


def can_object(graph: Graph, config: Config, party: str) -> bool:
    """The party can leave this configuration without paying its counterparty."""
    return any(
        e.step.actor == party and e.leaves and not paid_away(e, party) for e in graph.edges[config]
    )


def hearing_fault(graph: Graph, config: Config) -> str | None:
    """Why staff may not move money here, or None when this is a dispute both sides heard.

    A dispute is a state entered by one party's event that notified both parties,
    in which the other party (the respondent) can still act.
    """
    if config.opener not in PARTIES:
        how = f"by {config.opener}" if config.opener else "by no party's event"
        return f"{config.state!r} was entered {how}, not by a party's dispute"
    if set(PARTIES) - set(config.notified):
        missing = " and ".join(p for p in PARTIES if p not in config.notified)
        return f"the {config.opener}'s step into {config.state!r} did not notify the {missing}"
    respondent = other(config.opener)
    if not any(e.step.actor == respondent and e.target for e in graph.edges[config]):
        return f"the {respondent} (the respondent) can do nothing in {config.state!r}"
    return None


def rules(edge: Edge) -> bool:
    """A staff step that decides money: it moves escrow or ends the milestone."""
    return edge.step.actor == STAFF and bool(edge.movements)


def check_edge(graph: Graph, edge: Edge, report: Report) -> None:
    """Every property of one step: who may send the escrow where."""
    where = (edge.source.state, edge.step.event, edge.step.actor)
    for prop, (loser, direction) in _SIDES.items():
        amount = paid_away(edge, loser)
        if amount and not _consented(graph, edge, loser):
            message = (
                f"'{edge.step.actor} {edge.step.event}' sends {amount} of escrow {direction} "
                f"from {edge.source.state!r} without the {loser}'s consent, a settlement, a "
                f"staff ruling, or a deadline the {loser} was told of and could object to"
            )
            report((prop, *where), prop, message, edge.source, edge)
    if rules(edge):
        fault = hearing_fault(graph, edge.source)
        if fault is not None:
            message = (
                f"staff '{edge.step.event}' moves money from {edge.source.describe()} "
                f"without due process: {fault}"
            )
            report(("due_process", *where), "due_process", message, edge.source, edge)


def _consented(graph: Graph, edge: Edge, loser: str) -> bool:
    actor = edge.step.actor
    if actor in (loser, STAFF) or settlement(edge):
        return True
    return (
        actor == SYSTEM and loser in edge.source.notified and can_object(graph, edge.source, loser)
    )
