"""audit trail: TRUNCATE refused on PostgreSQL, and an HMAC column for rows sealed with DESK_AUDIT_KEY

The row triggers of 0001 refuse UPDATE and DELETE; TRUNCATE fires no row trigger, so it emptied the trail.
A statement trigger refuses it too (SQLite has no TRUNCATE: its DELETE trigger already covers a DELETE of
every row). `mac` holds the HMAC of the row's hash when DESK_AUDIT_KEY is set, and is empty for rows
written before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch: a batch copies the SQLite table, and the copy loses its triggers.
    op.add_column('audit_events', sa.Column('mac', sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # desk_audit_append_only() of 0001 raises 'the audit trail is append-only'.
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION desk_audit_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    # SQLite drops a column in place since 3.35, keeping the table's triggers.
    op.execute("ALTER TABLE audit_events DROP COLUMN mac")
