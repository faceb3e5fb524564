"""Staff review: a case's assignee, recorded decision and outcome, response and decision times.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Written by hand and frozen, like 0001. ``decision`` is NOT NULL, so existing rows get ``{}``
through a server default that is dropped again once they have it: the models set the value on
every insert. On SQLite, adding the columns is a plain ``ALTER TABLE``; dropping the default
makes batch mode recreate the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("assignee", sa.String(64), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("decision", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch.add_column(sa.Column("first_response_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column(
            "decision", existing_type=sa.JSON(), existing_nullable=False, server_default=None
        )
        batch.create_index("ix_cases_assignee_status", ["assignee", "status"])
        batch.create_index("ix_cases_account_key_outcome", ["account_key", "outcome"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_account_key_outcome")
        batch.drop_index("ix_cases_assignee_status")
        batch.drop_column("decided_at")
        batch.drop_column("first_response_at")
        batch.drop_column("decision")
        batch.drop_column("outcome")
        batch.drop_column("assignee")
