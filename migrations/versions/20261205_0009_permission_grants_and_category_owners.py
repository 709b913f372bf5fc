"""users hold permissions an admin granted them; categories may belong to a user

Revision ID: b7e2
Revises: ath1
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e2'
down_revision = 'ath1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('granted_permissions', sa.JSON(), nullable=True))
    # Existing categories stay the server's (owner_id NULL), as they were.
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_categories_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_categories_owner_id_users'), 'users',
                                    ['owner_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_categories_owner_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_categories_owner_id'))
        batch_op.drop_column('owner_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('granted_permissions')
