"""rich media: logged images, tables, histograms and project blob references

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'media',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('run_pk', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=256), nullable=False),
        sa.Column('step', sa.BigInteger(), nullable=False),
        sa.Column('media_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('data', _JSON, nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('warnings', _JSON, nullable=True),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['run_pk'], ['runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_pk', 'media_id', name='uq_media_run_media'),
    )
    op.create_index('ix_media_run_key_step', 'media', ['run_pk', 'key', 'step'])
    op.create_table(
        'project_blobs',
        sa.Column('project_id', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'sha256'),
    )


def downgrade() -> None:
    op.drop_table('project_blobs')
    op.drop_index('ix_media_run_key_step', table_name='media')
    op.drop_table('media')
