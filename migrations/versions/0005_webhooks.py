"""webhook deliveries

Revision ID: 0005_webhooks
Revises: 0004_scheduler

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0005_webhooks'
down_revision = '0004_scheduler'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=True),
    sa.Column('status', sa.Enum('pending', 'processed', 'ignored', 'failed', name='deliverystatus', native_enum=False, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('body_sha256', name=op.f('uq_webhook_deliveries_body_sha256'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_status'), ['status'], unique=False)



def downgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_status'))

    op.drop_table('webhook_deliveries')
