"""LANraragi: tankoubons, archive tables of contents, stamps, titles set by
clients, and the default bookmark category

Tankoubons (ordered collections of archives) and their archives; each
archive's table of contents (page and chapter name); stamps (notes pinned
on a page); the title a LANraragi
client set for a book, kept exactly as sent; and LANraragi's default
"🔖 Favorites" category linked to the bookmark button, made when the
server has no bookmark category yet.

Revision ID: lt01
Revises: sd01
Create Date: 2026-12-05 23:45:00
"""
import time
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'lt01'
down_revision = 'sd01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tankoubons',
    sa.Column('id', sa.String(length=15), nullable=False),
    sa.Column('name', sa.String(length=1000), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('cover_book_id', sa.Integer(), nullable=True),
    sa.Column('cover_page', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cover_book_id'], ['books.id'], name=op.f('fk_tankoubons_cover_book_id_books'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tankoubons'))
    )
    op.create_table('tankoubon_books',
    sa.Column('tankoubon_id', sa.String(length=15), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_tankoubon_books_book_id_books'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tankoubon_id'], ['tankoubons.id'], name=op.f('fk_tankoubon_books_tankoubon_id_tankoubons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tankoubon_id', 'book_id', name=op.f('pk_tankoubon_books'))
    )
    op.create_index(op.f('ix_tankoubon_books_book_id'), 'tankoubon_books', ['book_id'], unique=False)
    op.create_table('lrr_toc_entries',
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('page', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_lrr_toc_entries_book_id_books'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('book_id', 'page', name=op.f('pk_lrr_toc_entries'))
    )
    # Plain ALTERs (SQLite has ADD/DROP COLUMN): a batch copy of books would
    # lose its expression indexes.
    op.add_column('books', sa.Column('lrr_title', sa.String(length=1000), nullable=True))
    op.create_table('lrr_stamps',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('page', sa.Integer(), nullable=False),
    sa.Column('position', sa.String(length=100), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_lrr_stamps_book_id_books'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrr_stamps'))
    )
    op.create_index(op.f('ix_lrr_stamps_book_id'), 'lrr_stamps', ['book_id'], unique=False)

    # LANraragi's default bookmark category, as a fresh LANraragi has it.
    conn = op.get_bind()
    categories = sa.table('categories', sa.column('id', sa.String), sa.column('name', sa.String),
                          sa.column('search', sa.String), sa.column('pinned', sa.Boolean),
                          sa.column('bookmark', sa.Boolean), sa.column('last_used_at', sa.DateTime),
                          sa.column('owner_id', sa.Integer), sa.column('created_at', sa.DateTime),
                          sa.column('updated_at', sa.DateTime))
    if conn.execute(sa.select(categories.c.id).where(categories.c.bookmark.is_(True))).first() is None:
        stamp = int(time.time())
        taken = set(conn.execute(sa.select(categories.c.id)).scalars())
        while f"SET_{stamp}" in taken:
            stamp += 1
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        conn.execute(categories.insert().values(
            id=f"SET_{stamp}", name="🔖 Favorites", search="", pinned=False, bookmark=True,
            last_used_at=now, owner_id=None, created_at=now, updated_at=now))


def downgrade():
    op.drop_index(op.f('ix_lrr_stamps_book_id'), table_name='lrr_stamps')
    op.drop_table('lrr_stamps')
    op.drop_column('books', 'lrr_title')
    op.drop_table('lrr_toc_entries')
    op.drop_index(op.f('ix_tankoubon_books_book_id'), table_name='tankoubon_books')
    op.drop_table('tankoubon_books')
    op.drop_table('tankoubons')
