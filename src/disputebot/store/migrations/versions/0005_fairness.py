"""Fairness to both parties: evidence sources and sharing, merged cases, statements of reasons,
reported parties' claim links and links, and the audit log of reporters' standing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Written by hand and frozen, like 0001. ``evidence.source`` and ``evidence.shareable`` are NOT
NULL with server defaults, so existing rows are the reporter's and not shared.
``statements.case_id`` is the case's public id, not a foreign key (as in ``outbox``).
``party_links`` are active while ``revoked_at`` is NULL; the two indexes find an account's
chats and a chat's accounts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(
            sa.Column(
                "source", sa.String(16), nullable=False, server_default=sa.text("'reporter'")
            )
        )
        batch.add_column(
            sa.Column("shareable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(32), nullable=True))
        batch.create_index("ix_cases_merged_into", ["merged_into"])
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statements"),
    )
    op.create_index("ix_statements_case_id", "statements", ["case_id"])
    op.create_table(
        "party_claims",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_key", sa.Text(), nullable=False),
        sa.Column("account", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_party_claims"),
    )
    op.create_index("ix_party_claims_account_key", "party_claims", ["account_key"])
    op.create_table(
        "party_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_key", sa.Text(), nullable=False),
        sa.Column("account", sa.JSON(), nullable=False),
        sa.Column("chat_ref", sa.String(64), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_party_links"),
    )
    op.create_index(
        "ix_party_links_account_key_revoked_at", "party_links", ["account_key", "revoked_at"]
    )
    op.create_index(
        "ix_party_links_chat_ref_revoked_at", "party_links", ["chat_ref", "revoked_at"]
    )
    op.create_table(
        "standing_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("unfounded_at", sa.Integer(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("cases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_standing_events"),
    )
    op.create_index("ix_standing_events_reporter_id_at", "standing_events", ["reporter_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_standing_events_reporter_id_at", table_name="standing_events")
    op.drop_table("standing_events")
    op.drop_index("ix_party_links_chat_ref_revoked_at", table_name="party_links")
    op.drop_index("ix_party_links_account_key_revoked_at", table_name="party_links")
    op.drop_table("party_links")
    op.drop_index("ix_party_claims_account_key", table_name="party_claims")
    op.drop_table("party_claims")
    op.drop_index("ix_statements_case_id", table_name="statements")
    op.drop_table("statements")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_merged_into")
        batch.drop_column("merged_into")
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("shareable")
        batch.drop_column("source")
