"""bots, business hours, subjects, quick replies, settings

Revision ID: 0002_bots_workspace
Revises: 0001_team

"""
from alembic import op
import sqlalchemy as sa

import webapp.database  # our column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0002_bots_workspace'
down_revision = '0001_team'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('business_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_key', sa.String(length=80), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_hours')),
    sa.UniqueConstraint('name_key', name=op.f('uq_business_hours_name_key'))
    )
    op.create_table('company_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('protocol_format', sa.String(length=80), nullable=False),
    sa.Column('subject_required_on_close', sa.Boolean(), nullable=False),
    sa.Column('agent_name_in_messages', sa.Boolean(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('updated_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_settings'))
    )
    op.create_table('subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_key', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects')),
    sa.UniqueConstraint('name_key', name=op.f('uq_subjects_name_key'))
    )
    op.create_table('bots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_key', sa.String(length=80), nullable=False),
    sa.Column('greeting', sa.Text(), nullable=False),
    sa.Column('invalid_answer_message', sa.Text(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('fallback_department_id', sa.Integer(), nullable=False),
    sa.Column('out_of_hours_message', sa.Text(), nullable=False),
    sa.Column('no_answer_timeout_minutes', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fallback_department_id'], ['departments.id'], name=op.f('fk_bots_fallback_department_id_departments')),
    sa.ForeignKeyConstraint(['schedule_id'], ['business_hours.id'], name=op.f('fk_bots_schedule_id_business_hours')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bots')),
    sa.UniqueConstraint('name_key', name=op.f('uq_bots_name_key'))
    )
    op.create_table('business_hours_holidays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['business_hours.id'], name=op.f('fk_business_hours_holidays_schedule_id_business_hours'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_hours_holidays')),
    sa.UniqueConstraint('schedule_id', 'date', name=op.f('uq_business_hours_holidays_schedule_id'))
    )
    with op.batch_alter_table('business_hours_holidays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_hours_holidays_schedule_id'), ['schedule_id'], unique=False)

    op.create_table('business_hours_intervals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['business_hours.id'], name=op.f('fk_business_hours_intervals_schedule_id_business_hours'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_hours_intervals'))
    )
    with op.batch_alter_table('business_hours_intervals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_hours_intervals_schedule_id'), ['schedule_id'], unique=False)

    op.create_table('quick_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shortcut', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_quick_replies_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quick_replies')),
    sa.UniqueConstraint('shortcut', name=op.f('uq_quick_replies_shortcut'))
    )
    with op.batch_alter_table('quick_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quick_replies_department_id'), ['department_id'], unique=False)

    op.create_table('bot_menu_options',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_bot_menu_options_bot_id_bots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_bot_menu_options_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_menu_options')),
    sa.UniqueConstraint('bot_id', 'position', name=op.f('uq_bot_menu_options_bot_id'))
    )
    with op.batch_alter_table('bot_menu_options', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_menu_options_bot_id'), ['bot_id'], unique=False)


def downgrade():
    with op.batch_alter_table('bot_menu_options', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_menu_options_bot_id'))

    op.drop_table('bot_menu_options')
    with op.batch_alter_table('quick_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quick_replies_department_id'))

    op.drop_table('quick_replies')
    with op.batch_alter_table('business_hours_intervals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_business_hours_intervals_schedule_id'))

    op.drop_table('business_hours_intervals')
    with op.batch_alter_table('business_hours_holidays', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_business_hours_holidays_schedule_id'))

    op.drop_table('business_hours_holidays')
    op.drop_table('bots')
    op.drop_table('subjects')
    op.drop_table('company_settings')
    op.drop_table('business_hours')
