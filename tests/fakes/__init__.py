"""Fake platforms for tests: small WSGI apps served on 127.0.0.1 that check what the real ones check."""
