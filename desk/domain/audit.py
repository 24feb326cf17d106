"""The audit chain: canonical serialisation, row hashes and the walk that verifies them.

Plain Python: it sees rows as mappings, so it is tested without a database.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .audit_keys import mac_problem

GENESIS = "0" * 64
# Keys that may never be written into the trail, whatever a caller passes in details.
SECRET_KEYS = {"password", "token", "access_token", "refresh_token", "secret", "credentials", "client_secret"}


def canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    clean = scrub(details or {})
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: ("[redacted]" if k.lower() in SECRET_KEYS else scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def row_hash(row: Mapping[str, Any]) -> str:
    """Hash over (seq, previous hash, actor, time, action, object, details) in a fixed form."""
    material = json.dumps(
        [
            row["seq"],
            row["prev_hash"],
            row["actor_id"],
            row["actor"],
            row["at"] if isinstance(row["at"], str) else canonical_time(row["at"]),
            row["action"],
            row["object_type"],
            row["object_id"],
            row["unit_id"],
            row["channel_id"],
            row["post_id"],
            row["details"],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass
class ChainReport:
    ok: bool
    checked: int
    problem: str | None = None
    bad_seq: int | None = None
    head_hash: str = GENESIS
    # The first row that carries an HMAC (None: no row does), and whether a key checked the HMACs.
    keyed_from: int | None = None
    macs_checked: bool = False


EMPTIED = ("the trail is empty (row 1 and every row after it missing), though the desk holds records whose making "
           "was audited: the trail was emptied")


def verify_chain(rows: Iterable[Mapping[str, Any]], key: bytes | None = None, *,
                 must_have_rows: bool = False) -> ChainReport:
    """Walk rows in seq order; name the first one that was altered, inserted or deleted. With `key`, each
    row's HMAC (a row's "mac", when it has one) is checked too. `must_have_rows`: the desk holds records
    whose making was audited, so an empty trail is one that was emptied."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    keyed_from = None
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                what = f"row {expected_seq}" if seq == expected_seq + 1 else f"rows {expected_seq} to {seq - 1}"
                problem = f"{what} missing before row {seq}: deleted"
            else:
                problem = f"row {seq} appears again after row {expected_seq - 1}: inserted"
            return ChainReport(False, checked, problem, seq, expected_prev, keyed_from, key is not None)
        if row["prev_hash"] != expected_prev:
            return ChainReport(
                False, checked, f"row {seq} does not follow row {seq - 1}: a row was inserted or replaced", seq,
                expected_prev, keyed_from, key is not None
            )
        if row_hash(row) != row["hash"]:
            return ChainReport(False, checked, f"row {seq} was altered: its content no longer matches its hash", seq,
                               expected_prev, keyed_from, key is not None)
        mac = row.get("mac")
        problem = mac_problem(seq, row["hash"], mac, key, keyed_from)
        if problem:
            return ChainReport(False, checked, problem, seq, expected_prev, keyed_from, key is not None)
        if mac and keyed_from is None:
            keyed_from = seq
        expected_prev = row["hash"]
        expected_seq += 1
        checked += 1
    if not checked and must_have_rows:
        return ChainReport(False, 0, EMPTIED, 1, GENESIS, None, key is not None)
    return ChainReport(True, checked, None, None, expected_prev, keyed_from, key is not None)
