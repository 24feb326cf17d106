"""pytest plugin for mutation runs: keep only the tests that need no database, the fast domain tests.

Every database fixture of tests/conftest.py (session, world, app, client...) stands on one of these
engines, so a test that asks for none of them runs on plain objects in milliseconds.
"""
from __future__ import annotations

DATABASE_FIXTURES = {"engine", "sqlite_engine", "pg_engine"}


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        (drop if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
