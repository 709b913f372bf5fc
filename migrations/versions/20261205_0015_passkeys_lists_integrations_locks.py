"""passkeys and mailed tokens; reading lists; sync integrations; metadata locks

Passkeys (WebAuthn credentials) and the challenges handed out for them;
email verification tokens and the user's verified address; per-user reading
lists with their entries (CBL import); sync integrations an admin sets up and
each user's connection to them; the fields of books and series a user edited
(locked against rescans), and the name a renamed series is scanned under.

Revision ID: sd01
Revises: nw01
Create Date: 2026-12-05 11:49:40
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'sd01'
down_revision = 'nw01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_integrations',
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_integrations')),
    sa.UniqueConstraint('name', name=op.f('uq_sync_integrations_name'))
    )
    op.create_table('email_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_email_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_email_tokens_token_hash'))
    )
    with op.batch_alter_table('email_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('passkeys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credential_id', sa.String(length=1400), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('transports', sa.JSON(), nullable=True),
    sa.Column('aaguid', sa.String(length=36), nullable=True),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_passkeys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkeys')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_passkeys_credential_id'))
    )
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkeys_user_id'), ['user_id'], unique=False)

    op.create_table('reading_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reading_lists_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reading_lists')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_reading_lists_user_id_name'))
    )
    with op.batch_alter_table('reading_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reading_lists_user_id'), ['user_id'], unique=False)

    op.create_table('user_integrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('synced_until', sa.DateTime(), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(), nullable=True),
    sa.Column('last_result', sa.JSON(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['sync_integrations.id'], name=op.f('fk_user_integrations_integration_id_sync_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_integrations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_integrations')),
    sa.UniqueConstraint('user_id', 'integration_id', name=op.f('uq_user_integrations_user_id_integration_id'))
    )
    with op.batch_alter_table('user_integrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_integrations_integration_id'), ['integration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_integrations_user_id'), ['user_id'], unique=False)

    op.create_table('webauthn_challenges',
    sa.Column('challenge', sa.String(length=128), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('rp_id', sa.String(length=255), nullable=False),
    sa.Column('origin', sa.String(length=2000), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_webauthn_challenges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('challenge', name=op.f('pk_webauthn_challenges'))
    )
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webauthn_challenges_expires_at'), ['expires_at'], unique=False)

    op.create_table('reading_list_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=True),
    sa.Column('series', sa.String(length=500), nullable=True),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('volume', sa.String(length=32), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('identifiers', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_reading_list_entries_book_id_books'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['list_id'], ['reading_lists.id'], name=op.f('fk_reading_list_entries_list_id_reading_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reading_list_entries'))
    )
    with op.batch_alter_table('reading_list_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reading_list_entries_book_id'), ['book_id'], unique=False)
        batch_op.create_index('ix_reading_list_entries_list_position', ['list_id', 'position'], unique=False)

    # Plain ALTERs on books: a batch copy of the table on SQLite would drop
    # its expression indexes (ix_books_title_sort, ix_books_number_sort).
    op.add_column('books', sa.Column('locked_fields', sa.JSON(), nullable=True))

    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_fields', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('scanned_name', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('scanned_publisher_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_series_scanned_publisher_id_publishers'), 'publishers', ['scanned_publisher_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')

    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_series_scanned_publisher_id_publishers'), type_='foreignkey')
        batch_op.drop_column('scanned_publisher_id')
        batch_op.drop_column('scanned_name')
        batch_op.drop_column('locked_fields')

    op.drop_column('books', 'locked_fields')

    with op.batch_alter_table('reading_list_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_reading_list_entries_list_position')
        batch_op.drop_index(batch_op.f('ix_reading_list_entries_book_id'))

    op.drop_table('reading_list_entries')
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webauthn_challenges_expires_at'))

    op.drop_table('webauthn_challenges')
    with op.batch_alter_table('user_integrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_integrations_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_integrations_integration_id'))

    op.drop_table('user_integrations')
    with op.batch_alter_table('reading_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reading_lists_user_id'))

    op.drop_table('reading_lists')
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkeys_user_id'))

    op.drop_table('passkeys')
    with op.batch_alter_table('email_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_email_tokens_expires_at'))

    op.drop_table('email_tokens')
    op.drop_table('sync_integrations')
