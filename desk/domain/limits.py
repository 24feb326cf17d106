"""The sizes and ranges the desk takes in, and how much of a long text its audit trail copies.

Plain Python. The API's shapes, the web forms, the OpenAPI description and the audit trail all read
these numbers, so that what the document promises and what the server enforces cannot drift apart.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

# PostgreSQL's `integer`, the type of every id column: a larger number names no row, and sent to the
# database it is an error rather than "not found". Page numbers are held to it too.
MAX_ID = 2**31 - 1

# Free text, in characters. A text that goes out is capped at what the longest of the desk's platforms
# accepts, so a cap never refuses words that one of its channels would have taken (tests check the
# numbers against the adapters' own limits).
POST_TEXT_MAX = 63_206      # a post's body, a channel's own text, a template's text: Facebook's post limit
                            # (X takes 280, 25,000 for long posts; YouTube's description 5,000 bytes)
TITLE_MAX = 255             # a video's or photo's title: the desk's Flickr ceiling (YouTube takes 100)
DESCRIPTION_MAX = 10_000    # a video's or photo's description: the desk's Flickr ceiling (YouTube 5,000 bytes)
TAG_MAX = 500               # one tag: YouTube's total for all tags together, so no platform takes a longer one
TAGS_MAX = 75               # tags on one file: Flickr's 75 a photo, more than YouTube's 500 characters hold
LINK_MAX = 2_000            # a post's link: the column's size, and more than any browser is sure to follow
RULE_MAX = 120              # a repeating post's rule ('weekdays 07:30', a cron line): the column's size
# Text that stays inside the desk: what a person writes to another, and what goes on the record.
NOTE_MAX = 2_000            # a comment or a reason (approval, rejection, withdrawal, retraction, grants)
BUSINESS_CASE_MAX = 5_000   # a business case for access: a paragraph or two for the line manager
NAME_MAX = 200              # names of people, units, channels, templates: the columns' size
UNIT_CODE_MAX = 32          # a unit's code (CO11): the column's size
EMAIL_MAX = 254             # an e-mail address: RFC 5321's longest path, and the column's size
PASSWORD_MAX = 1_000        # a password: long pass phrases welcome; Argon2 need not hash a megabyte
SHORT_MAX = 200             # any other short field: a hash, a privacy word, a filter, a code
# Any single form field or query value, whatever it is for: no field of the desk takes more.
FIELD_MAX = POST_TEXT_MAX

# A request's body, JSON or a form without files (media uploads have their own, far larger, limit). A post
# with its own text for each of a dozen channels, each at the longest, fits; a body meant to fill memory
# or the trail does not.
BODY_MAX_BYTES = 2 * 1024 * 1024
# No request of the API nests deeper than 4 (targets[0].extra.tags[0]); deeper is not a request for it.
JSON_DEPTH_MAX = 32

# The audit trail copies a text up to this length in full (every comment and reason, every X post, every
# YouTube or Flickr description, all but the longest Facebook posts), because an auditor must be able to read
# back the words a person approved; a longer one is recorded by its SHA-256 and length, so that a long post
# saved, edited and submitted does not copy itself into the permanent trail again and again.
AUDIT_TEXT_MAX = DESCRIPTION_MAX


def id_problem(value: int) -> str | None:
    """Why a whole number cannot name a row (or a page), or None."""
    if not 1 <= value <= MAX_ID:
        return f"Must be a whole number from 1 to {MAX_ID}: no id (and no page) lies outside that."
    return None


def whole_number(text: str) -> int | None:
    """The number a query string's ASCII digits spell, or None ('²' and '٣' are digits to str.isdigit,
    and a thousand digits are a number to int(); neither is an id)."""
    text = text.strip()
    if not text or len(text) > 20 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def row_id(text: str) -> int | None:
    """The id a text names, or None when it can name no row: not ASCII digits, or outside [1, MAX_ID]."""
    number = whole_number(text)
    return number if number is not None and not id_problem(number) else None


def text_problem(text: str) -> str | None:
    """Why a text cannot be stored or published as it is, or None: a NUL character (PostgreSQL keeps no
    NUL in text, and no platform publishes one), or half of a surrogate pair (not a character at all: no
    UTF-8 encodes it, so neither the database nor a platform can take it)."""
    if "\x00" in text:
        return "Contains a NUL character (\\u0000), which cannot be stored or published: remove it."
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return (f"Contains \\u{ord(char):04x}, half of a surrogate pair and not a character (a text cut in "
                    "the middle of an emoji?): remove it or send the whole character.")
    return None


def length_problem(text: str, limit: int, what: str = "text") -> str | None:
    if len(text) > limit:
        return f"At most {limit:,} characters for this {what}; this one has {len(text):,}."
    return None


def trail_text(text: str) -> Any:
    """How a text goes into the audit trail: itself up to AUDIT_TEXT_MAX, else its hash and length."""
    if len(text) <= AUDIT_TEXT_MAX:
        return text
    return {"sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), "length": len(text)}


def bounded_details(value: Any) -> Any:
    """Audit details with every long text replaced by its hash and length (see trail_text)."""
    if isinstance(value, str):
        return trail_text(value)
    if isinstance(value, Mapping):
        return {k: bounded_details(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bounded_details(v) for v in value]
    return value
