"""messages

Revision ID: 0008_messages
Revises: 0007_contacts_tickets
Create Date: 2026-11-25 18:14:04.016063

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0008_messages'
down_revision = '0007_contacts_tickets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('message_early_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('mid', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('happened_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_message_early_changes_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_message_early_changes_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_early_changes'))
    )
    with op.batch_alter_table('message_early_changes', schema=None) as batch_op:
        batch_op.create_index('ix_message_early_changes_mid', ['connection_id', 'mid'], unique=False)

    op.create_table('live_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('connection_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_live_events_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_live_events_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_live_events_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_events'))
    )
    with op.batch_alter_table('live_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('mid', sa.String(length=255), nullable=True),
    sa.Column('direction', sa.Enum('in', 'out', name='direction', native_enum=False, length=20), nullable=False),
    sa.Column('author', sa.Enum('customer', 'agent', 'bot', 'instagram_app', name='author', native_enum=False, length=20), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('reply_to_mid', sa.String(length=255), nullable=True),
    sa.Column('sent_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('received', 'queued', 'sending', 'sent', 'seen', 'failed', name='messagestatus', native_enum=False, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('seen_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('edited_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('num_edit', sa.Integer(), nullable=False),
    sa.Column('reaction', sa.String(length=32), nullable=True),
    sa.Column('reacted_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_messages_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_messages_connection_id_connections')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_messages_contact_id_contacts')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_messages_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('connection_id', 'mid', name=op.f('uq_messages_connection_id'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_messages_outbox', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_messages_ticket_sent', ['ticket_id', 'sent_at'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ticket_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_ticket_events_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('media_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'stored', 'failed', 'too_large', 'link_only', name='mediastatus', native_enum=False, length=20), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_media_files_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_files')),
    sa.UniqueConstraint('message_id', 'position', name=op.f('uq_media_files_message_id'))
    )
    with op.batch_alter_table('media_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_files_status'), ['status'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tunnel_notice', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('last_message_at', webapp.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('bot_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('bot_deadline_at', webapp.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('out_of_hours_sent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('referral', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tickets_bot_deadline_at'), ['bot_deadline_at'], unique=False)

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', webapp.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', webapp.database.UTCDateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('claimed_at')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_bot_deadline_at'))
        batch_op.drop_column('referral')
        batch_op.drop_column('out_of_hours_sent')
        batch_op.drop_column('bot_deadline_at')
        batch_op.drop_column('bot_attempts')
        batch_op.drop_column('last_message_at')
        batch_op.drop_column('tunnel_notice')

    with op.batch_alter_table('media_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_files_status'))

    op.drop_table('media_files')
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_ticket_id'))

    op.drop_table('ticket_events')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_ticket_sent')
        batch_op.drop_index('ix_messages_outbox')
        batch_op.drop_index(batch_op.f('ix_messages_contact_id'))

    op.drop_table('messages')
    with op.batch_alter_table('live_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_events_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_live_events_created_at'))

    op.drop_table('live_events')
    with op.batch_alter_table('message_early_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_message_early_changes_mid')

    op.drop_table('message_early_changes')
