"""libraries are watched for changes (watch_mode); "scan on start" has one owner

The admin setting ``scanner.scan_on_start`` duplicated the SCAN_ON_START
setting of config.yml; config.yml owns the switch for the process now and
each library's ``scan_on_start`` the choice per library. An admin who had
turned the setting off keeps that: every library's ``scan_on_start`` is
turned off instead.

Revision ID: nw01
Revises: pf01
Create Date: 2026-12-05 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'nw01'
down_revision = 'pf01'
branch_labels = None
depends_on = None

_settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', sa.JSON))
_libraries = sa.table('libraries', sa.column('scan_on_start', sa.Boolean))


def upgrade():
    with op.batch_alter_table('libraries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('watch_mode', sa.String(length=16), nullable=False,
                                      server_default='auto'))
    conn = op.get_bind()
    value = conn.execute(sa.select(_settings.c.value)
                         .where(_settings.c.key == 'scanner.scan_on_start')).scalar()
    if value is False:
        conn.execute(_libraries.update().values(scan_on_start=False))
    conn.execute(_settings.delete().where(_settings.c.key == 'scanner.scan_on_start'))


def downgrade():
    with op.batch_alter_table('libraries', schema=None) as batch_op:
        batch_op.drop_column('watch_mode')
