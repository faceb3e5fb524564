"""Delivery: claims and leases on outbox items, and chats that refuse delivery.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Written by hand and frozen, like 0001. ``claimed_by`` and ``lease_until`` say which worker holds
an item until when; the (channel, chat_id, status, id) index finds each chat's oldest pending
item, the only one a worker may claim. ``chats_unreachable`` keeps chats that answered 403.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch.create_index(
            "ix_outbox_channel_chat_id_status_id", ["channel", "chat_id", "status", "id"]
        )
    op.create_table(
        "chats_unreachable",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id", name="pk_chats_unreachable"),
    )
    op.create_index("ix_chats_unreachable_since", "chats_unreachable", ["since"])


def downgrade() -> None:
    op.drop_index("ix_chats_unreachable_since", table_name="chats_unreachable")
    op.drop_table("chats_unreachable")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_channel_chat_id_status_id")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
