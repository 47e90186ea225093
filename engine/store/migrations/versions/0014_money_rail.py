"""Money at the rail's boundary: fundings, party balances, payouts, chargebacks, Stripe.

Adds the milestone's pending funding and charged-back figures, the party a posting
belongs to, and the tables of engine.store.models (Funding ... RailEvent). Releases
and refunds were owed, before, on two accounts per contract without a party
(`provider_payable`, `buyer_refunds`); what they still hold moves, by one entry per
contract (`opening_balance`), onto the party's own `payable` account, so nothing
owed before the upgrade is forgotten after it. The entries are new rows: the ledger
stays append-only.

Revision ID: 0014_money_rail
Revises: 0010_live_case
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_money_rail"
down_revision = "0010_live_case"
branch_labels = None
depends_on = None

LEGACY = {"provider_payable": "provider_id", "buyer_refunds": "buyer_id"}
MOMENT = sa.DateTime(timezone=True)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    # Plain ALTER TABLE on both backends, as in 0007.
    op.add_column("milestones", _money("pending_funding"))
    op.add_column("milestones", _money("charged_back"))
    op.add_column("postings", sa.Column("party_id", sa.String(128), nullable=True))
    op.create_index("ix_postings_party", "postings", ["party_id", "contract_id", "account"])
    op.create_table(
        "fundings",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("milestone_id", sa.String(40), sa.ForeignKey("milestones.id"), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rail_reference", sa.String(255), nullable=True),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("expires_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("settled_at", MOMENT, nullable=True),
        sa.UniqueConstraint("tenant", "rail_reference", name="uq_fundings_reference"),
    )
    op.create_index("ix_fundings_contract_id", "fundings", ["contract_id"])
    op.create_index("ix_fundings_milestone_id", "fundings", ["milestone_id"])
    op.create_index("ix_fundings_pending_expiry", "fundings", ["status", "expires_at"])
    op.create_table(
        "party_balances",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("party_id", sa.String(128), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        *(_money(name) for name in ("pending", "available", "in_flight", "paid_out", "debt")),
    )
    op.create_table(
        "payable_holds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("party_id", sa.String(128), nullable=False),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("milestone_id", sa.String(40), sa.ForeignKey("milestones.id"), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("available_at", MOMENT, nullable=False),
        sa.Column("matured_at", MOMENT, nullable=True),
    )
    op.create_index("ix_payable_holds_due", "payable_holds", ["matured_at", "available_at"])
    op.create_index("ix_payable_holds_party", "payable_holds", ["party_id", "contract_id"])
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("party_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rail_reference", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        _money("reversed_amount"),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("settled_at", MOMENT, nullable=True),
        sa.UniqueConstraint("tenant", "rail_reference", name="uq_payouts_reference"),
    )
    op.create_index("ix_payouts_contract_id", "payouts", ["contract_id"])
    op.create_table(
        "chargebacks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("funding_id", sa.String(40), sa.ForeignKey("fundings.id"), nullable=False),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("milestone_id", sa.String(40), sa.ForeignKey("milestones.id"), nullable=False),
        sa.Column("rail_reference", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("respond_by", MOMENT, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("split", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("ledger_entries.id"), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("settled_at", MOMENT, nullable=True),
        sa.UniqueConstraint("tenant", "rail_reference", name="uq_chargebacks_reference"),
    )
    op.create_index("ix_chargebacks_funding_id", "chargebacks", ["funding_id"])
    op.create_index("ix_chargebacks_milestone_id", "chargebacks", ["milestone_id"])
    op.create_table(
        "rail_endpoints",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False, unique=True),
        sa.Column("rail", sa.String(16), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
    )
    op.create_table(
        "rail_events",
        sa.Column(
            "endpoint_id", sa.String(40), sa.ForeignKey("rail_endpoints.id"), primary_key=True
        ),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(500), nullable=False),
        sa.Column("received_at", MOMENT, nullable=False),
    )
    _move_legacy_payables()


def _move_legacy_payables() -> None:
    """One `opening_balance` entry per contract moves what the old accounts still owe."""
    bind = op.get_bind()
    owed = bind.execute(
        sa.text(
            "SELECT c.id, c.tenant, c.currency, c.buyer_id, c.provider_id, p.account,"
            " SUM(p.amount) FROM postings p JOIN contracts c ON c.id = p.contract_id"
            " WHERE p.account IN ('provider_payable', 'buyer_refunds')"
            " GROUP BY c.id, c.tenant, c.currency, c.buyer_id, c.provider_id, p.account"
            " HAVING SUM(p.amount) <> 0 ORDER BY c.id, p.account"
        )
    ).all()
    now = bind.execute(sa.text("SELECT CURRENT_TIMESTAMP")).scalar_one()
    for contract_id, tenant, currency, buyer_id, provider_id, account, total in owed:
        party = provider_id if account == "provider_payable" else buyer_id
        entry_id = bind.execute(
            sa.text(
                "INSERT INTO ledger_entries (contract_id, milestone_id, kind, memo, created_at)"
                " VALUES (:c, NULL, 'opening_balance', :memo, :at) RETURNING id"
            ),
            {"c": contract_id, "memo": f"{account} moves to the party's payable", "at": now},
        ).scalar_one()
        bind.execute(
            sa.text(
                "INSERT INTO postings (entry_id, contract_id, account, amount, currency, party_id)"
                " VALUES (:e, :c, :account, :amount, :cur, :party)"
            ),
            [
                {
                    "e": entry_id,
                    "c": contract_id,
                    "account": account,
                    "amount": -total,
                    "cur": currency,
                    "party": None,
                },
                {
                    "e": entry_id,
                    "c": contract_id,
                    "account": "payable",
                    "amount": total,
                    "cur": currency,
                    "party": party,
                },
            ],
        )
        updated = bind.execute(
            sa.text(
                "UPDATE party_balances SET available = available + :amount"
                " WHERE tenant = :t AND party_id = :p AND currency = :cur"
            ),
            {"amount": total, "t": tenant, "p": party, "cur": currency},
        )
        if not updated.rowcount:
            bind.execute(
                sa.text(
                    "INSERT INTO party_balances (tenant, party_id, currency, available)"
                    " VALUES (:t, :p, :cur, :amount)"
                ),
                {"amount": total, "t": tenant, "p": party, "cur": currency},
            )


def downgrade() -> None:
    for table in (
        "rail_events",
        "rail_endpoints",
        "chargebacks",
        "payouts",
        "payable_holds",
        "party_balances",
        "fundings",
    ):
        op.drop_table(table)
    op.drop_index("ix_postings_party", table_name="postings")
    op.drop_column("postings", "party_id")
    op.drop_column("milestones", "charged_back")
    op.drop_column("milestones", "pending_funding")
