"""contacts and tickets

Revision ID: 0007_contacts_tickets
Revises: 0006_protocol_counters

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0007_contacts_tickets'
down_revision = '0006_protocol_counters'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('igsid', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('picture_url', sa.Text(), nullable=True),
    sa.Column('profile_checked_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('profile_error', sa.String(length=255), nullable=True),
    sa.Column('default_department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_contacts_connection_id_connections')),
    sa.ForeignKeyConstraint(['default_department_id'], ['departments.id'], name=op.f('fk_contacts_default_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('connection_id', 'igsid', name=op.f('uq_contacts_connection_id'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('protocol', sa.String(length=32), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('bot', 'queued', 'open', 'closed', name='ticketstatus', native_enum=False, length=20), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_customer_message_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tunnel_closes_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['users.id'], name=op.f('fk_tickets_assigned_to_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_tickets_connection_id_connections')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_tickets_contact_id_contacts')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_tickets_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('protocol', name=op.f('uq_tickets_protocol'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_assigned_to_id'), ['assigned_to_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_tunnel_closes_at'), ['tunnel_closes_at'], unique=False)
        batch_op.create_index('uq_tickets_contact_not_closed', ['contact_id'], unique=True, sqlite_where=sa.text("status != 'closed'"), postgresql_where=sa.text("status != 'closed'"))



def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('uq_tickets_contact_not_closed', sqlite_where=sa.text("status != 'closed'"), postgresql_where=sa.text("status != 'closed'"))
        batch_op.drop_index(batch_op.f('ix_tickets_tunnel_closes_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_tickets_department_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_connection_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_assigned_to_id'))

    op.drop_table('tickets')
    op.drop_table('contacts')
