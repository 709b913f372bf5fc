"""books carry the byte ranges of their stored pages (page requests read the book row only)

Revision ID: pf01
Revises: mp01
Create Date: 2026-12-05 12:00:00

Existing books get theirs from the ``pages`` table here, so a library
scanned before serves its pages the fast way without a rescan.
"""
import struct

from alembic import op
import sqlalchemy as sa


revision = 'pf01'
down_revision = 'mp01'
branch_labels = None
depends_on = None

_SPAN = struct.Struct("<qq")  # comicsrv.library.spans, frozen here as this revision knows it
BATCH = 500


def upgrade():
    op.add_column('books', sa.Column('page_spans', sa.LargeBinary(), nullable=True))
    _backfill(op.get_bind())


def _backfill(connection):
    """One pass over the stored pages, ordered by book, a batch of books per
    UPDATE: memory stays flat whatever the library's size."""
    books = sa.table('books', sa.column('id', sa.Integer), sa.column('page_spans', sa.LargeBinary))
    rows = connection.execute(sa.text(
        'SELECT book_id, "index", data_offset, size FROM pages WHERE book_id IN '
        '(SELECT book_id FROM pages WHERE data_offset IS NOT NULL) '
        'ORDER BY book_id, "index"'), execution_options={"stream_results": True})
    values, current, spans, stored = [], None, bytearray(), False

    def finish():
        if current is not None and stored:
            values.append({"book": current, "spans": bytes(spans)})

    for book_id, index, offset, size in rows:
        if book_id != current:
            finish()
            current, spans, stored = book_id, bytearray(), False
        while len(spans) < index * _SPAN.size:  # a gap in the indexes: not stored
            spans += _SPAN.pack(-1, 0)
        if offset is None or size is None:
            spans += _SPAN.pack(-1, 0)
        else:
            spans += _SPAN.pack(offset, size)
            stored = True
        if len(values) >= BATCH:
            _write(connection, books, values)
            values = []
    finish()
    _write(connection, books, values)


def _write(connection, books, values):
    if values:
        connection.execute(books.update().where(books.c.id == sa.bindparam("book"))
                           .values(page_spans=sa.bindparam("spans")), values)


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+): batch mode would rebuild the table
    # and lose the expression indexes, which it cannot reflect.
    op.execute('ALTER TABLE books DROP COLUMN page_spans')
