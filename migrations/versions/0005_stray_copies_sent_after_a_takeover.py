"""stray copies: a post a worker sent after another had taken it over, for a person to remove

A worker frozen past its lease in the middle of the call that creates a post can still finish that call
after another worker published the post. The second copy is kept here, and listed on the post's page and
the status page until a person removes it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stray_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('remote_id', sa.String(length=200), nullable=False),
    sa.Column('remote_url', sa.String(length=2000), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('removed_at', sa.DateTime(), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['publish_attempts.id'],
                            name=op.f('fk_stray_copies_attempt_id_publish_attempts')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_stray_copies_removed_by_id_users')),
    sa.ForeignKeyConstraint(['target_id'], ['targets.id'], name=op.f('fk_stray_copies_target_id_targets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stray_copies'))
    )
    with op.batch_alter_table('stray_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stray_copies_removed_at'), ['removed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stray_copies_target_id'), ['target_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stray_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stray_copies_target_id'))
        batch_op.drop_index(batch_op.f('ix_stray_copies_removed_at'))
    op.drop_table('stray_copies')
