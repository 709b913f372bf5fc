"""arcid aliases: the archive ids a rewritten book's file had

Revision ID: 1205cbz1
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '1205cbz1'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('arcid_aliases',
    sa.Column('arcid', sa.String(length=40), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_arcid_aliases_book_id_books'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('arcid', 'book_id', name=op.f('pk_arcid_aliases'))
    )
    with op.batch_alter_table('arcid_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arcid_aliases_book_id'), ['book_id'], unique=False)


def downgrade():
    with op.batch_alter_table('arcid_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arcid_aliases_book_id'))

    op.drop_table('arcid_aliases')
