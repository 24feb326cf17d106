"""Alembic environment: the desk's metadata, and the URL (or connection) the desk hands over."""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import pool

from desk import models  # noqa: F401  (registers the tables)
from desk.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("DESK_DATABASE_URL")
    if url:
        return url
    from desk.config import settings_from_env

    instance = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance")
    os.makedirs(instance, exist_ok=True)
    return settings_from_env(instance).database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
