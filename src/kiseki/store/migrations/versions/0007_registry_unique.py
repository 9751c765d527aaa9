"""one registered model per name (NULL project ids escape the plain unique constraint)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('uq_registry_name', 'artifact_collections', ['name'], unique=True,
                    sqlite_where=sa.text("kind = 'registry'"),
                    postgresql_where=sa.text("kind = 'registry'"))


def downgrade() -> None:
    op.drop_index('uq_registry_name', table_name='artifact_collections')
