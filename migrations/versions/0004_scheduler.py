"""scheduler lease and jobs

Revision ID: 0004_scheduler
Revises: 0003_connections

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0004_scheduler'
down_revision = '0003_connections'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduled_jobs',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('next_run_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', webapp.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduled_jobs'))
    )
    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('expires_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases'))
    )


def downgrade():
    op.drop_table('scheduler_leases')
    op.drop_table('scheduled_jobs')
