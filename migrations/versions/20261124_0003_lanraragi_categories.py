"""lanraragi categories: static and dynamic categories of the archive API

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 14:12:22.818451

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('categories',
    sa.Column('id', sa.String(length=14), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('search', sa.String(length=2000), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('bookmark', sa.Boolean(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories'))
    )
    op.create_table('category_books',
    sa.Column('category_id', sa.String(length=14), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_category_books_book_id_books'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_category_books_category_id_categories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('category_id', 'book_id', name=op.f('pk_category_books'))
    )
    with op.batch_alter_table('category_books', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_category_books_book_id'), ['book_id'], unique=False)



def downgrade():
    with op.batch_alter_table('category_books', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_category_books_book_id'))

    op.drop_table('category_books')
    op.drop_table('categories')
