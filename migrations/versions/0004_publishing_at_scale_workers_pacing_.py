"""publishing at scale: workers, pacing, lateness, recurring series

Workers report a heartbeat; channels keep their pacing and how late is too late; a recurring series
makes one post per occurrence, unique per (series, occurrence) so that no occurrence is made twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 21:56:56.759980
"""
from alembic import op
import sqlalchemy as sa



revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workers',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('pool_size', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
    sa.Column('stopped_at', sa.DateTime(), nullable=True),
    sa.Column('in_flight', sa.Integer(), nullable=False),
    sa.Column('last_pass_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workers_heartbeat_at'), ['heartbeat_at'], unique=False)

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_after_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_send_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('rate_remaining', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_reset_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.create_index('ix_targets_channel_status', ['channel_id', 'status'], unique=False)

    with op.batch_alter_table('publish_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publish_attempts_finished_at'), ['finished_at'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recurrence_rule', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('recurrence_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('recurrence_generated_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('occurrence_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_posts_series_id'), ['series_id'], unique=False)
        batch_op.create_unique_constraint('uq_posts_series_occurrence', ['series_id', 'occurrence_at'])
        batch_op.create_foreign_key(batch_op.f('fk_posts_series_id_posts'), 'posts', ['series_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_posts_series_id_posts'), type_='foreignkey')
        batch_op.drop_constraint('uq_posts_series_occurrence', type_='unique')
        batch_op.drop_index(batch_op.f('ix_posts_series_id'))
        batch_op.drop_column('occurrence_at')
        batch_op.drop_column('series_id')
        batch_op.drop_column('recurrence_generated_until')
        batch_op.drop_column('recurrence_until')
        batch_op.drop_column('recurrence_rule')

    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index('ix_targets_channel_status')

    with op.batch_alter_table('publish_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publish_attempts_finished_at'))

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('rate_reset_at')
        batch_op.drop_column('rate_remaining')
        batch_op.drop_column('next_send_at')
        batch_op.drop_column('late_after_minutes')

    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workers_heartbeat_at'))

    op.drop_table('workers')
