"""duplicate groups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 13:55:28.669207

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('duplicate_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=1000), nullable=False),
    sa.Column('dismissed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_groups')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_duplicate_groups_kind_key'))
    )
    op.create_table('duplicate_members',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_duplicate_members_book_id_books'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['duplicate_groups.id'], name=op.f('fk_duplicate_members_group_id_duplicate_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'book_id', name=op.f('pk_duplicate_members'))
    )
    with op.batch_alter_table('duplicate_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_members_book_id'), ['book_id'], unique=False)



def downgrade():
    with op.batch_alter_table('duplicate_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_members_book_id'))

    op.drop_table('duplicate_members')
    op.drop_table('duplicate_groups')
