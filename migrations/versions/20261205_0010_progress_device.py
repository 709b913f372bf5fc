"""reading progress remembers the device that saved it (Readium progression API)

Revision ID: op01
Revises: b7e2
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'op01'
down_revision = 'b7e2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reading_progress', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('device_name', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('reading_progress', schema=None) as batch_op:
        batch_op.drop_column('device_name')
        batch_op.drop_column('device_id')
