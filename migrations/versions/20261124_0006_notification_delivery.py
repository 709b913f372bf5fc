"""notification targets remember their last delivery and its error

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification_targets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_sent_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_error_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('notification_targets', schema=None) as batch_op:
        batch_op.drop_column('last_error_at')
        batch_op.drop_column('last_error')
        batch_op.drop_column('last_sent_at')
