"""Alembic migrations are the only way the schema is made: they must produce exactly the models."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from desk.db import Base
from desk.migrate import current_revision, downgrade, upgrade


def _diff(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return compare_metadata(ctx, Base.metadata)


def test_migrations_produce_the_models_schema(engine):
    assert current_revision(engine) is not None
    assert _diff(engine) == []


def test_downgrade_and_upgrade_again(sqlite_engine):
    downgrade(sqlite_engine, "base")
    assert set(inspect(sqlite_engine).get_table_names()) <= {"alembic_version"}
    upgrade(sqlite_engine)
    assert _diff(sqlite_engine) == []
    assert "audit_events" in inspect(sqlite_engine).get_table_names()
