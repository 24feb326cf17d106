"""The JSON API at /api/v1: the same use cases as the web desk, for other force systems.

Importing the package imports every route module, so the blueprint carries all the routes and the
OpenAPI registry all their descriptions before the blueprint is registered.
"""
from __future__ import annotations

from . import grants, media, templates  # noqa: F401 (each adds its routes and its OpenAPI part)
from .routes import api

__all__ = ["api"]
