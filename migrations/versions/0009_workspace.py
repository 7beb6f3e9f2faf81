"""workspace: closing subjects, outbound files, accepted/closed by

Revision ID: 0009_workspace
Revises: 0008_messages
Create Date: 2026-11-25 19:46:06.900727

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0009_workspace'
down_revision = '0008_messages'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ticket_subjects',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_ticket_subjects_subject_id_subjects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_subjects_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'subject_id', name=op.f('pk_ticket_subjects'))
    )
    with op.batch_alter_table('ticket_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_subjects_subject_id'), ['subject_id'], unique=False)

    op.create_table('outbound_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_outbound_files_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_outbound_files_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_outbound_files_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_files')),
    sa.UniqueConstraint('token', name=op.f('uq_outbound_files_token'))
    )
    with op.batch_alter_table('outbound_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_files_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_files_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', webapp.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tickets_closed_by_id_users'), 'users', ['closed_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_tickets_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index('ix_tickets_waiting', ['opened_at'], unique=False,
                              sqlite_where=sa.text("status IN ('bot', 'queued')"),
                              postgresql_where=sa.text("status IN ('bot', 'queued')"))



def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_waiting', sqlite_where=sa.text("status IN ('bot', 'queued')"),
                            postgresql_where=sa.text("status IN ('bot', 'queued')"))
        batch_op.drop_index(batch_op.f('ix_tickets_closed_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_opened_at'))
        batch_op.drop_constraint(batch_op.f('fk_tickets_closed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('accepted_at')

    with op.batch_alter_table('outbound_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_files_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_outbound_files_message_id'))

    op.drop_table('outbound_files')
    with op.batch_alter_table('ticket_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_subjects_subject_id'))

    op.drop_table('ticket_subjects')
