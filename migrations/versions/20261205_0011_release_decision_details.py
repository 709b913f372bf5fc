"""release decisions keep the release's link, size, seeders and age, so the
web UI's interactive search can list them and grab one later; watched issues
are counted per series and state from an index

Revision ID: 0101_decision_details
Revises: op01
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0101_decision_details'
down_revision = 'op01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('release_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('download_url', sa.String(length=4000), nullable=True))
        batch_op.add_column(sa.Column('protocol', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('seeders', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('published', sa.DateTime(), nullable=True))
    with op.batch_alter_table('watched_issues', schema=None) as batch_op:
        batch_op.create_index('ix_watched_issues_series_state', ['watched_series_id', 'state'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('watched_issues', schema=None) as batch_op:
        batch_op.drop_index('ix_watched_issues_series_state')
    with op.batch_alter_table('release_decisions', schema=None) as batch_op:
        batch_op.drop_column('published')
        batch_op.drop_column('seeders')
        batch_op.drop_column('size')
        batch_op.drop_column('protocol')
        batch_op.drop_column('download_url')
