"""artifacts: collections, versions, files, aliases, lineage, registry history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('role', sa.String(length=16), nullable=False,
                                   server_default='member'))
    op.create_table(
        'artifact_collections',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('project_id', sa.BigInteger(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('project_id', 'kind', 'name', name='uq_artifact_collection'),
    )
    op.create_table(
        'artifact_versions',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('collection_id', sa.BigInteger(), nullable=False),
        sa.Column('version_index', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('file_count', sa.Integer(), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('metadata', _JSON, nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('run_pk', sa.BigInteger(), nullable=True),
        sa.Column('client_id', sa.String(length=64), nullable=True),
        sa.Column('source_version_id', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['collection_id'], ['artifact_collections.id'],
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_pk'], ['runs.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('collection_id', 'version_index', name='uq_artifact_version_index'),
    )
    op.create_index('ix_artifact_versions_client', 'artifact_versions', ['client_id'])
    op.create_index('ix_artifact_versions_digest', 'artifact_versions',
                    ['collection_id', 'digest'])
    op.create_table(
        'artifact_files',
        sa.Column('version_id', sa.BigInteger(), nullable=False),
        sa.Column('path', sa.String(length=1024), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('ref_uri', sa.Text(), nullable=True),
        sa.Column('ref_digest', sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('version_id', 'path'),
    )
    op.create_index('ix_artifact_files_sha', 'artifact_files', ['sha256'])
    op.create_table(
        'artifact_logs',
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('version_id', sa.BigInteger(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('client_id'),
    )
    op.create_table(
        'artifact_aliases',
        sa.Column('collection_id', sa.BigInteger(), nullable=False),
        sa.Column('alias', sa.String(length=64), nullable=False),
        sa.Column('version_id', sa.BigInteger(), nullable=False),
        sa.Column('protected', sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(['collection_id'], ['artifact_collections.id'],
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('collection_id', 'alias'),
    )
    op.create_table(
        'artifact_lineage',
        sa.Column('run_pk', sa.BigInteger(), nullable=False),
        sa.Column('version_id', sa.BigInteger(), nullable=False),
        sa.Column('direction', sa.String(length=8), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['run_pk'], ['runs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_pk', 'version_id', 'direction'),
    )
    op.create_index('ix_artifact_lineage_version', 'artifact_lineage', ['version_id'])
    op.create_table(
        'registry_events',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('collection_id', sa.BigInteger(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('alias', sa.String(length=64), nullable=True),
        sa.Column('from_version', sa.Integer(), nullable=True),
        sa.Column('to_version', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['collection_id'], ['artifact_collections.id'],
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('role')
    op.drop_table('registry_events')
    op.drop_index('ix_artifact_lineage_version', table_name='artifact_lineage')
    op.drop_table('artifact_lineage')
    op.drop_table('artifact_aliases')
    op.drop_table('artifact_logs')
    op.drop_index('ix_artifact_files_sha', table_name='artifact_files')
    op.drop_table('artifact_files')
    op.drop_index('ix_artifact_versions_digest', table_name='artifact_versions')
    op.drop_index('ix_artifact_versions_client', table_name='artifact_versions')
    op.drop_table('artifact_versions')
    op.drop_table('artifact_collections')
