"""Deadlines: timers on cases (the "still under review" reminder), kept as rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Written by hand and frozen, like 0001. A row is pending while ``done_at`` is NULL; the
(done_at, due_at) index finds the due ones, (case_id, kind) a case's own. ``case_id`` is the
case's public id, not a foreign key (as in ``outbox``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deadlines"),
    )
    op.create_index("ix_deadlines_done_at_due_at", "deadlines", ["done_at", "due_at"])
    op.create_index("ix_deadlines_case_id_kind", "deadlines", ["case_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_deadlines_case_id_kind", table_name="deadlines")
    op.drop_index("ix_deadlines_done_at_due_at", table_name="deadlines")
    op.drop_table("deadlines")
