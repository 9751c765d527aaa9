"""media rows remember the blobs they need (for garbage collection)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.add_column(sa.Column(
            'blobs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                            'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.drop_column('blobs')
