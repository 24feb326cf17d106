"""Anchors: the trail's head (row number and hash) kept outside the database, and checked against it later.

A chain proves only that nothing before a known head changed. Written where the force keeps its records (a
file, syslog, an e-mail to the records officer), a head lets `audit verify --expect-head SEQ:HASH` catch a
tail that was cut off or a chain that was rebuilt. Plain Python: no Flask, no database, no network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from .audit import GENESIS, ChainReport, canonical_time

# The worker anchors once a day; after a failed attempt it waits an hour rather than retry every pass.
ANCHOR_EVERY = timedelta(days=1)
RETRY_AFTER = timedelta(hours=1)
SYSLOG_PORT = 514
FACILITIES = ("user", "auth", "authpriv", "daemon", *(f"local{i}" for i in range(8)))
HEAD_FORM = re.compile(r"(\d{1,18}):([0-9a-fA-F]{64})")
SINK_FORMS = ("file:///path/to/anchors.log, syslog://HOST[:PORT][?facility=local0], syslog:///dev/log "
              "or mailto:records.officer@force.example")


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True)
class Sink:
    """Where anchors go: kind "file" (path), "syslog" (host and port, or a socket path) or "mail" (address)."""

    kind: str
    target: str
    port: int | None = None
    facility: str = "user"


def parse_head(text: str) -> Head:
    """'SEQ:HASH' as an anchor gives it, e.g. '1234:9f86d0…' (64 hex digits); ValueError with words if not."""
    match = HEAD_FORM.fullmatch((text or "").strip())
    if not match:
        raise ValueError(f"{text!r} is not a head: write SEQ:HASH, the row number and its 64-hex-digit hash as "
                         "the anchor gave them, e.g. 1234:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f0"
                         "0a08.")
    return Head(int(match[1]), match[2].lower())


def head_problem(expected: Head, found: str | None, last_seq: int) -> str | None:
    """What is wrong when the anchored row is `expected` and the trail holds `found` at that row (None: no
    such row), on a trail of `last_seq` rows whose chain is otherwise intact."""
    if expected.seq == 0:
        found = GENESIS
    if found is None:
        return (f"row {expected.seq} was anchored, but the trail ends at row {last_seq}: rows were cut from its "
                "end after the anchor was taken")
    if found != expected.hash:
        return (f"row {expected.seq} has the hash {found}, not {expected.hash} as anchored: the chain was "
                "rebuilt after the anchor was taken")
    return None


def expect_heads(report: ChainReport, heads: list[Head], found: dict[int, str]) -> ChainReport:
    """The chain's report, failed at the first anchored head the trail no longer reaches with its hash."""
    if not report.ok:
        return report
    for head in heads:
        problem = head_problem(head, found.get(head.seq), report.checked)
        if problem:
            return replace(report, ok=False, problem=problem, bad_seq=head.seq)
    return report


def anchor_line(head: Head, at: datetime, keyed_from: int | None) -> str:
    """One line, the same in every sink: when, the head as --expect-head takes it, where the keyed part starts."""
    keyed = f"keyed-from {keyed_from}" if keyed_from else "unkeyed"
    return f"{canonical_time(at)} desk audit head {head} {keyed}"


def anchor_due(now: datetime, last_anchored: datetime | None, last_failed: datetime | None) -> bool:
    """A day after the last anchor (at once when there is none), and an hour after a failed attempt."""
    if last_failed is not None and now - last_failed < RETRY_AFTER:
        return False
    return last_anchored is None or now - last_anchored >= ANCHOR_EVERY


def parse_sink(text: str) -> Sink:
    """DESK_AUDIT_ANCHOR as a Sink; ValueError with the forms it takes."""
    raw = (text or "").strip()
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "file" and parts.path.startswith("/") and parts.netloc in ("", "localhost"):
        return Sink("file", parts.path)
    if scheme == "mailto" and re.fullmatch(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+", parts.path):
        return Sink("mail", parts.path)
    if scheme == "syslog":
        facility = parse_qs(parts.query).get("facility", ["user"])[-1].lower()
        if facility not in FACILITIES:
            raise ValueError(f"DESK_AUDIT_ANCHOR: syslog facility {facility!r} is not one of {', '.join(FACILITIES)}.")
        if not parts.netloc and parts.path.startswith("/"):
            return Sink("syslog", parts.path, None, facility)
        try:
            port = parts.port or SYSLOG_PORT
        except ValueError:
            port = None
        if parts.hostname and port:
            return Sink("syslog", parts.hostname, port, facility)
    raise ValueError(f"DESK_AUDIT_ANCHOR {raw!r} is not a place for anchors: write {SINK_FORMS}.")


def parse_server(text: str, default_port: int = 25) -> tuple[str, int]:
    """'HOST[:PORT]' as (host, port); ValueError with words if not."""
    text = (text or "").strip()
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = text, ""
    if host and not any(c.isspace() for c in host) and (not colon or (port.isdigit() and 0 < int(port) < 65536)):
        return host, int(port) if port else default_port
    raise ValueError(f"DESK_SMTP_SERVER {text!r} is not a mail server: write HOST or HOST:PORT, e.g. "
                     "smtp.force.example:25.")
