"""thumbnails made once: a photo's thumbnail is stored at upload, not decoded from the photo at every view

Photos stored before keep NULL and get their thumbnail at their first view.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 17:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thumbnail_path', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_column('thumbnail_path')
