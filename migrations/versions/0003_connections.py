"""connections, link attempts, legal texts

Revision ID: 0003_connections
Revises: 0002_bots_workspace

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0003_connections'
down_revision = '0002_bots_workspace'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('legal_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('privacy_pt_br', sa.Text(), nullable=False),
    sa.Column('privacy_en', sa.Text(), nullable=False),
    sa.Column('terms_pt_br', sa.Text(), nullable=False),
    sa.Column('terms_en', sa.Text(), nullable=False),
    sa.Column('updated_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_texts'))
    )
    op.create_table('connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('default_department_id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('not_linked', 'active', 'needs_reauth', 'disconnected', name='connectionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('status_detail', sa.Text(), nullable=True),
    sa.Column('page_id', sa.String(length=32), nullable=True),
    sa.Column('page_name', sa.String(length=255), nullable=True),
    sa.Column('instagram_account_id', sa.String(length=32), nullable=True),
    sa.Column('instagram_username', sa.String(length=64), nullable=True),
    sa.Column('instagram_picture_url', sa.Text(), nullable=True),
    sa.Column('page_token_ciphertext', sa.Text(), nullable=True),
    sa.Column('linked_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('linked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_connections_bot_id_bots')),
    sa.ForeignKeyConstraint(['default_department_id'], ['departments.id'], name=op.f('fk_connections_default_department_id_departments')),
    sa.ForeignKeyConstraint(['linked_by_id'], ['users.id'], name=op.f('fk_connections_linked_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('instagram_account_id', name=op.f('uq_connections_instagram_account_id'))
    )
    op.create_table('connection_link_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('user_token_ciphertext', sa.Text(), nullable=False),
    sa.Column('facebook_user_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_connection_link_attempts_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_connection_link_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connection_link_attempts'))
    )
    with op.batch_alter_table('connection_link_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connection_link_attempts_connection_id'), ['connection_id'], unique=False)



def downgrade():
    with op.batch_alter_table('connection_link_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connection_link_attempts_connection_id'))

    op.drop_table('connection_link_attempts')
    op.drop_table('connections')
    op.drop_table('legal_texts')
