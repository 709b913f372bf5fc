"""cluster: the processes of a deployment (cluster_nodes), event batches too
big for a NOTIFY (event_payloads), requests counted against provider quotas
(rate_limit_hits)

Revision ID: mp01
Revises: 0101_decision_details
Create Date: 2026-12-05 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'mp01'
down_revision = '0101_decision_details'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cluster_nodes',
        sa.Column('owner', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('hostname', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=32), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.Column('leader', sa.Boolean(), nullable=False),
        sa.Column('schedules', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('owner', name=op.f('pk_cluster_nodes')),
    )
    with op.batch_alter_table('cluster_nodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_nodes_seen_at'), ['seen_at'], unique=False)
    op.create_table(
        'event_payloads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_payloads')),
    )
    with op.batch_alter_table('event_payloads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_payloads_created_at'), ['created_at'],
                              unique=False)
    op.create_table(
        'rate_limit_hits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_hits')),
    )
    with op.batch_alter_table('rate_limit_hits', schema=None) as batch_op:
        batch_op.create_index('ix_rate_limit_hits_key_at', ['key', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('rate_limit_hits', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_limit_hits_key_at')
    op.drop_table('rate_limit_hits')
    with op.batch_alter_table('event_payloads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_payloads_created_at'))
    op.drop_table('event_payloads')
    with op.batch_alter_table('cluster_nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_nodes_seen_at'))
    op.drop_table('cluster_nodes')
