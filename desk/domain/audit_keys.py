"""The keyed audit chain: each row's hash sealed with an HMAC under DESK_AUDIT_KEY.

Anyone who can write to the database can change a row and recompute every plain SHA-256 hash after it.
The key is kept outside the database (like the token key), so a chain rebuilt from the database alone no
longer matches its HMACs. Plain Python: no Flask, no database.
"""
from __future__ import annotations

import hashlib
import hmac

from .errors import DeskError


class AuditKeyMissing(DeskError):
    """The trail is keyed, but this process has no key to extend it with."""

    code = "audit_key_missing"
    http_status = 503


KEY_MISSING = ("The audit trail is sealed with DESK_AUDIT_KEY, and this process was started without it, so "
               "it cannot write to the trail: nothing was changed. Tell the desk's administrators to set "
               "DESK_AUDIT_KEY for every web process, worker and command, and restart them.")


def key_bytes(setting: str | None) -> bytes | None:
    """The key as the HMAC takes it: the setting's UTF-8 bytes, without spaces around it; None when unset."""
    setting = (setting or "").strip()
    return setting.encode("utf-8") if setting else None


def row_mac(key: bytes, row_hash: str) -> str:
    """HMAC-SHA256 of the row's hash (its 64 hex digits as text). The hash already covers every hashed field
    and the previous row's hash, so sealing it seals the row and its place in the chain."""
    return hmac.new(key, row_hash.encode("utf-8"), hashlib.sha256).hexdigest()


def mac_matches(key: bytes, row_hash: str, mac: str) -> bool:
    return hmac.compare_digest(row_mac(key, row_hash).encode("utf-8"), mac.encode("utf-8"))


def mac_problem(seq: int, row_hash: str, mac: str | None, key: bytes | None, keyed_from: int | None) -> str | None:
    """What is wrong with a row's HMAC, or None. Once one row carries an HMAC, every later one must: the desk
    never writes an unsealed row onto a sealed trail, so a missing HMAC there was dropped."""
    if not mac:
        if keyed_from is None:
            return None
        return (f"row {seq} carries no HMAC though every row from row {keyed_from} does: the chain was rebuilt "
                "from there by someone without DESK_AUDIT_KEY")
    if key is not None and not mac_matches(key, row_hash, mac):
        return (f"row {seq} does not match its HMAC: it was rewritten by someone without DESK_AUDIT_KEY, or "
                "DESK_AUDIT_KEY is not the key it was written with")
    return None
