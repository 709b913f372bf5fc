"""books.koreader_hash: KOReader's partial MD5 of each file, for its progress sync

KOReader's kosync plugin names a document by ``util.partialMD5`` of its file;
the scan computes it for every book beside the arcid, and ``/koreader``
finds the book (and so the one progress row) by it. Existing rows get it on
their library's next scan.

Revision ID: ko01
Revises: lt01
Create Date: 2026-12-05 23:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'ko01'
down_revision = 'lt01'
branch_labels = None
depends_on = None


# Plain ALTERs, not a batch: SQLite's batch mode copies the table and would
# lose the expression indexes of earlier revisions (ix_books_*_sort).
def upgrade():
    op.add_column('books', sa.Column('koreader_hash', sa.String(length=32), nullable=True))
    op.create_index(op.f('ix_books_koreader_hash'), 'books', ['koreader_hash'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_books_koreader_hash'), table_name='books')
    op.drop_column('books', 'koreader_hash')
