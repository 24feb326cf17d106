"""Pre-approved templates for operational updates: text with named, typed fields. Plain Python.

    "{road} is closed {direction} from {time}. {advice}"

Each `{name}` is a field with a type and a limit: `choice` (one of a fixed list), `time` (HH:MM, 24
hours), `number` (a whole number from 0 up to N) or `text` (free text up to N characters). An approved
template lets unit staff post an update without a second approval, so the values are the only words that
change: they are checked here, and screened like any post by the service. Only a `text` field lets someone
type words the template's approver never read; the others are what make a common update need no approver
(`template_gate.py` says when one is needed). `{{` and `}}` stand for literal braces.
"""
from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from .errors import ValidationFailed

CHOICE, TIME, NUMBER, TEXT = "choice", "time", "number", "text"
FIELD_TYPES = {CHOICE: "A choice from a list", TIME: "A time (HH:MM)", NUMBER: "A whole number, up to a limit",
               TEXT: "Free text, up to a limit"}
MAX_FIELDS = 8
MAX_TEXT = 280
# Six digits at most: a number field must not be able to carry a phone number or a card number.
MAX_NUMBER = 999_999
MAX_CHOICES = 40
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
TIME_RE = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
NUMBER_RE = re.compile(r"^[0-9]+$")  # ASCII digits only: int() would also take Arabic-Indic digits
STATUSES = {"draft": "Draft: waiting for approval", "approved": "Approved: staff may post from it",
            "suspended": "Suspended: nobody may post from it"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    limit: int | None = None           # text: the most characters; number: the highest value
    choices: tuple[str, ...] = field(default=())  # choice: the values allowed

    def as_dict(self) -> dict:
        out = asdict(self)
        out["choices"] = list(self.choices)
        return out

    def describe(self) -> str:
        if self.type == CHOICE:
            return "one of: " + "; ".join(self.choices)
        if self.type == TIME:
            return "a time, HH:MM (24 hours)"
        if self.type == NUMBER:
            return f"a whole number from 0 to {self.limit}"
        return f"up to {self.limit} characters"


@dataclass(frozen=True)
class Rendered:
    text: str
    spans: dict[str, list[tuple[int, int]]]  # where each field's value sits in the text


def placeholders(body: str) -> list[str]:
    """The field names in the order they first appear; refuses what is not a plain `{name}`."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body or ""))
    except ValueError:
        raise ValidationFailed("The template has an unmatched brace.", field_errors={"body": [
            "A brace is not closed: write a field as {road}, and a brace itself as {{ or }}."]}) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not NAME_RE.match(name) or spec or conversion:
            shown = "{" + name + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}"
            raise ValidationFailed("The template has a field that is not a plain name.", field_errors={"body": [
                f"{shown} is not a field: use a lower-case name of letters, digits and _, such as {{road}}."]})
        if name not in names:
            names.append(name)
    return names


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def parse_fields(raw: Iterable[Mapping]) -> tuple[tuple[FieldSpec, ...], dict[str, list[str]]]:
    """Field definitions from plain data (a form or JSON), with problems keyed 'fields-<i>-<attr>'."""
    specs, errors, seen = [], {}, set()

    def bad(i, attr, message):
        errors.setdefault(f"fields-{i}-{attr}", []).append(message)

    for i, row in enumerate(raw):
        name = str(row.get("name") or "").strip()
        label = " ".join(str(row.get("label") or "").split()) or name.replace("_", " ").capitalize()
        kind = str(row.get("type") or "").strip()
        raw_choices = row.get("choices") or ()
        if isinstance(raw_choices, str):
            raw_choices = raw_choices.splitlines()
        choices = tuple(dict.fromkeys(" ".join(str(c).split()) for c in raw_choices if str(c).strip()))
        limit = _int(row.get("limit"))
        if not name:
            bad(i, "name", "Give the field a name, as it is written in the text (road for {road}).")
            continue
        if not NAME_RE.match(name):
            bad(i, "name", "A lower-case name of letters, digits and _, starting with a letter (e.g. road).")
        elif name in seen:
            bad(i, "name", f"There is already a field called {name}.")
        seen.add(name)
        if kind not in FIELD_TYPES:
            bad(i, "type", f"Choose a type: {', '.join(FIELD_TYPES)}.")
        elif kind == CHOICE and len(choices) < 2:
            bad(i, "choices", "List at least two choices, one per line.")
        elif kind == CHOICE and (len(choices) > MAX_CHOICES or any(len(c) > MAX_TEXT for c in choices)):
            bad(i, "choices", f"At most {MAX_CHOICES} choices, each up to {MAX_TEXT} characters.")
        elif kind == TEXT and (limit is None or not 1 <= limit <= MAX_TEXT):
            bad(i, "limit", f"Say how many characters the text may have, from 1 to {MAX_TEXT}.")
        elif kind == NUMBER and (limit is None or not 1 <= limit <= MAX_NUMBER):
            bad(i, "limit", f"Say the highest number allowed, from 1 to {MAX_NUMBER}.")
        specs.append(FieldSpec(name, label, kind, limit if kind in (TEXT, NUMBER) else None,
                               choices if kind == CHOICE else ()))
    if len(specs) > MAX_FIELDS:
        errors.setdefault("fields", []).append(f"A template has at most {MAX_FIELDS} fields.")
    return tuple(specs), errors


def check(name: str, body: str, raw_fields: Iterable[Mapping]) -> tuple[FieldSpec, ...]:
    """A whole definition checked at once: every problem keyed by the field of the form it is about."""
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = ["Give the template a name staff will recognise, e.g. Road closure update."]
    elif len(name.strip()) > 200:
        errors["name"] = ["At most 200 characters."]
    specs, field_errors = parse_fields(raw_fields)
    errors.update(field_errors)
    used: list[str] = []
    if not (body or "").strip():
        errors["body"] = ["Write the text of the update, with its fields in braces, e.g. {road}."]
    else:
        try:
            used = placeholders(body)
        except ValidationFailed as exc:
            errors.update(exc.field_errors)
    defined = {s.name for s in specs}
    missing = [n for n in used if n not in defined]
    if missing:
        errors.setdefault("body", []).append(
            f"The text uses {', '.join('{' + n + '}' for n in missing)}, which "
            f"{'is not a field' if len(missing) == 1 else 'are not fields'}: add it below, or take it out.")
    for i, spec in enumerate(specs):
        if used and spec.name not in used:
            errors.setdefault(f"fields-{i}-name", []).append(
                f"{{{spec.name}}} is not in the text: put it where the value goes, or remove the field.")
    if errors:
        raise ValidationFailed("The template was not saved: put right what is marked. What you typed is kept.",
                               field_errors=errors)
    return specs


def validate_values(specs: Iterable[FieldSpec], values: Mapping[str, object]) -> dict[str, str]:
    """The values made clean (a time as HH:MM, a choice as listed, a number without leading zeros), or every
    problem keyed 'values.<name>'."""
    specs = tuple(specs)
    clean, errors = {}, {}
    known = {s.name for s in specs}
    for extra in sorted(set(values) - known):
        errors[f"values.{extra}"] = [f"This template has no field called {extra}."]
    for spec in specs:
        raw = values.get(spec.name)
        text = " ".join(raw.split()) if isinstance(raw, str) else None
        key = f"values.{spec.name}"
        if raw is not None and not isinstance(raw, str):
            errors[key] = [f"{spec.label}: give it as text."]
        elif not text:
            errors[key] = [f"{spec.label}: fill it in ({spec.describe()})."]
        elif spec.type == CHOICE:
            match = next((c for c in spec.choices if c.casefold() == text.casefold()), None)
            if match is None:
                errors[key] = [f"{spec.label}: choose one of the approved values ({'; '.join(spec.choices)})."]
            clean[spec.name] = match or text
        elif spec.type == TIME:
            m = TIME_RE.match(text)
            if not m:
                errors[key] = [f"{spec.label}: give a time as HH:MM on the 24-hour clock, such as 14:30."]
            clean[spec.name] = f"{int(m.group(1)):02d}:{m.group(2)}" if m else text
        elif spec.type == NUMBER:
            digits = (text.lstrip("0") or "0") if NUMBER_RE.match(text) else None
            if digits is None:
                errors[key] = [f"{spec.label}: give a whole number from 0 to {spec.limit}, in digits."]
            elif len(digits) > len(str(MAX_NUMBER)) or int(digits) > (spec.limit or 0):
                shown = f"; this is {digits}" if len(digits) <= 12 else ""
                errors[key] = [f"{spec.label}: at most {spec.limit}{shown}."]
            clean[spec.name] = digits or text
        else:
            if len(text) > (spec.limit or MAX_TEXT):
                errors[key] = [f"{spec.label}: at most {spec.limit} characters; this has {len(text)}. "
                               f"Shorten it by {len(text) - spec.limit}."]
            clean[spec.name] = text
    if errors:
        raise ValidationFailed("Nothing was published: put right the values marked. What you typed is kept.",
                               field_errors=errors)
    return clean


def has_free_text(specs: Iterable[FieldSpec]) -> bool:
    """Whether staff can type words of their own into it: only then can an update from it draw a warning
    in what was typed, and go to an approver."""
    return any(s.type == TEXT for s in specs)


def render(body: str, values: Mapping[str, str]) -> Rendered:
    """The text with each field replaced by its value, and where each value ended up."""
    out, spans, pos = [], {}, 0
    for literal, name, _spec, _conv in string.Formatter().parse(body):
        out.append(literal)
        pos += len(literal)
        if name is not None:
            value = str(values.get(name, ""))
            spans.setdefault(name, []).append((pos, pos + len(value)))
            out.append(value)
            pos += len(value)
    return Rendered("".join(out), spans)


def sample(body: str, specs: Iterable[FieldSpec]) -> Rendered:
    """The text with each field shown as its label in brackets: the preview, and what is screened on approval."""
    return render(body, {s.name: f"[{s.label}]" for s in specs})


def fields_at(rendered: Rendered, start: int, end: int) -> list[str]:
    """The fields whose values hold some of the words at start..end, in the order of the text's fields."""
    return [name for name, spans in rendered.spans.items() if any(s < end and start < e for s, e in spans)]


def field_at(rendered: Rendered, start: int, end: int) -> str | None:
    """The field whose value holds the words at start..end; None when they are in the template's own text."""
    return next(iter(fields_at(rendered, start, end)), None)


def content_hash(name: str, body: str, specs: Iterable[FieldSpec], channel_ids: Iterable[int]) -> str:
    """What an approval of the template is bound to: its words, fields, limits and channels."""
    material = {"name": name, "body": body, "fields": [s.as_dict() for s in specs],
                "channels": sorted(set(channel_ids))}
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def fields_to_json(specs: Iterable[FieldSpec]) -> str:
    return json.dumps([s.as_dict() for s in specs], ensure_ascii=False)


def fields_from_json(text: str | None) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(d["name"], d["label"], d["type"], d.get("limit"), tuple(d.get("choices") or ()))
                 for d in json.loads(text or "[]"))
