"""protocol counters

Revision ID: 0006_protocol_counters
Revises: 0005_webhooks

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0006_protocol_counters'
down_revision = '0005_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('protocol_counters',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_protocol_counters'))
    )


def downgrade():
    op.drop_table('protocol_counters')
