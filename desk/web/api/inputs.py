"""The API's JSON in: the shape of each request body and query string, checked before any service runs.

A client's developer gets every problem at once, keyed by where it sits in the request
("targets[1].scheduled_at"), and nothing is saved while the request itself is malformed. Every string
has its length cap and every id its range (desk/domain/limits.py), which the OpenAPI description states.
"""
from __future__ import annotations

import json
from datetime import datetime

from flask import request

from ...domain import limits
from ...domain.errors import DeskError, ValidationFailed
from ...domain.timezones import parse_iso
from ...models import Post
from ...services.audit_trail import AuditFilter
from ...services.posts import PostInput, RecurrenceInput, TargetInput, extra_of

MISSING = object()
MAX_PER_PAGE = 200
TARGET_KEYS = ("channel_id", "text", "scheduled_at", "extra", "media_ids")
EXTRA_KEYS = ("title", "description", "tags", "privacy")
NOTHING_SAVED = "The request has problems, so nothing was changed: see `fields`, correct it and send it again."
# The longest each small action's field may be ({name: characters}); any other field: limits.SHORT_MAX.
FIELD_LIMITS = {"comment": limits.NOTE_MAX, "reason": limits.NOTE_MAX, "business_case": limits.BUSINESS_CASE_MAX,
                "expected_hash": 64}


class InvalidJson(ValidationFailed):
    code = "invalid_json"


class UnsupportedMediaType(DeskError):
    code = "unsupported_media_type"
    http_status = 415


def json_body(required: bool = True) -> dict:
    """The request's JSON object; an empty body counts as {} where every field is optional."""
    raw = request.get_data(cache=True)
    if (raw.strip() or request.content_length) and not request.is_json:
        raise UnsupportedMediaType(f"The body is sent as '{request.mimetype or 'no Content-Type'}'; this API reads "
                                   "JSON only: send it with 'Content-Type: application/json'. Nothing was changed.")
    if not raw.strip():
        if required:
            raise InvalidJson("The request needs a JSON object as its body (Content-Type: application/json).")
        return {}
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidJson("The body is not UTF-8 text, so it cannot be JSON. Nothing was changed.") from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"The body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
                          "Nothing was changed.") from None
    except ValueError:  # a number of more digits than Python turns into an int
        raise InvalidJson("The body holds a number with more digits than any value the desk takes. Nothing was "
                          "changed.") from None
    except RecursionError:
        raise InvalidJson(f"The body nests arrays or objects deeper than {limits.JSON_DEPTH_MAX} levels; no "
                          "request of this API does. Nothing was changed.") from None
    if not isinstance(data, dict):
        raise InvalidJson(f"The body must be a JSON object, not {_kind(data)}. Nothing was changed.")
    problems = _unstorable(data)
    if problems:
        raise ValidationFailed(NOTHING_SAVED, field_errors=problems)
    return data


def _printable(text: str) -> str:
    return text if limits.text_problem(text) is None else text.encode("unicode_escape", "backslashreplace").decode()


def _unstorable(data: dict) -> dict[str, list[str]]:
    """Every string and key holding a NUL or half a surrogate pair, by its path; a body nested too deep."""
    problems: dict[str, list[str]] = {}
    stack = [(data, "", 0)]
    while stack:  # not recursive: the nesting is what is being checked
        value, path, depth = stack.pop()
        if depth > limits.JSON_DEPTH_MAX:
            raise InvalidJson(f"The body nests arrays or objects deeper than {limits.JSON_DEPTH_MAX} levels; no "
                              "request of this API does. Nothing was changed.")
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{_printable(key)}" if path else _printable(key)
                problem = limits.text_problem(key)
                if problem:
                    problems.setdefault(where, []).append(f"This field's name: {problem}")
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = limits.text_problem(value)
            if problem:
                problems.setdefault(path, []).append(problem)
    return problems


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


class Shape:
    """Collects the problems of one request's body; `done()` raises them together."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def only(self, obj: dict, allowed: set[str], prefix: str = "") -> None:
        for key in obj:
            if key not in allowed:
                self.add(prefix + key, f"Unknown field '{key}': the fields here are {', '.join(sorted(allowed))}.")

    def string(self, obj: dict, key: str, path: str, *, required=False, nullable=True, limit=limits.SHORT_MAX):
        value = obj.get(key, MISSING)
        if value is MISSING:
            if required:
                self.add(path, "Required.")
        elif value is None:
            if not nullable:
                self.add(path, "Must be a string, not null.")
        elif not isinstance(value, str):
            self.add(path, f"Must be a string{' or null' if nullable else ''}, not {_kind(value)}.")
            return MISSING
        elif len(value) > limit:
            self.add(path, limits.length_problem(value, limit, "field"))
            return MISSING
        return value

    def integer(self, obj: dict, key: str, path: str):
        value = obj.get(key, MISSING)
        if value is MISSING:
            self.add(path, "Required: the channel's id (GET /api/v1/channels lists them).")
        elif isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"Must be an integer, not {_kind(value)}.")
            return MISSING
        elif limits.id_problem(value):
            self.add(path, limits.id_problem(value))
            return MISSING
        return value

    def query_ints(self, args, names) -> dict[str, int | None]:
        """Whole numbers from the query string, each in [1, MAX_ID]; None for those not given."""
        ints: dict[str, int | None] = {}
        for name in names:
            text = args.get(name) or ""
            number = limits.whole_number(text) if text else None
            problem = limits.id_problem(number) if number is not None else None
            if text and (number is None or problem):
                self.add(name, problem or f"Must be a whole number of 1 or more, not '{_printable(text[:40])}'.")
                number = None
            ints[name] = number
        return ints

    def extra(self, obj: dict, path: str):
        """The per-platform fields {title, description, tags, privacy}: strings, tags an array of strings;
        null clears one (in a PATCH, the keys left out keep their value)."""
        value = obj.get("extra", MISSING)
        if value is MISSING:
            return value
        if not isinstance(value, dict):
            self.add(path, f"Must be an object {{{', '.join(EXTRA_KEYS)}}}, not {_kind(value)}.")
            return MISSING
        before = len(self.errors)
        self.only(value, set(EXTRA_KEYS), path + ".")
        extra = {}
        for key, limit in (("title", limits.TITLE_MAX), ("description", limits.DESCRIPTION_MAX),
                           ("privacy", limits.SHORT_MAX)):
            text = self.string(value, key, f"{path}.{key}", limit=limit)
            if text is not MISSING:
                extra[key] = text.strip() if isinstance(text, str) else None
        tags = value.get("tags", MISSING)
        if tags is None:
            extra["tags"] = None
        elif tags is not MISSING:
            if not isinstance(tags, list):
                self.add(f"{path}.tags", f"Must be an array of strings, not {_kind(tags)}.")
            elif len(tags) > limits.TAGS_MAX:
                self.add(f"{path}.tags", f"At most {limits.TAGS_MAX} tags (no platform takes more); there are "
                                         f"{len(tags)}.")
            else:
                for i, tag in enumerate(tags):
                    if not isinstance(tag, str):
                        self.add(f"{path}.tags[{i}]", f"Must be a string, not {_kind(tag)}.")
                    elif len(tag) > limits.TAG_MAX:
                        self.add(f"{path}.tags[{i}]", limits.length_problem(tag, limits.TAG_MAX, "tag"))
                # As the web form keeps them: spaces tidied, empty ones dropped, each tag once, order kept.
                extra["tags"] = list(dict.fromkeys(" ".join(t.split()) for t in tags
                                                   if isinstance(t, str) and t.strip()))
        return MISSING if len(self.errors) > before else extra

    def ids(self, obj: dict, key: str, path: str):
        """An array of distinct ids, its order kept."""
        value = obj.get(key, MISSING)
        if value is MISSING:
            return value
        if not isinstance(value, list):
            self.add(path, f"Must be an array of media ids ([] for none), not {_kind(value)}.")
            return MISSING
        before = len(self.errors)
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int):
                self.add(f"{path}[{i}]", f"Must be an integer (a media id from POST /api/v1/media), not {_kind(item)}.")
            elif limits.id_problem(item):
                self.add(f"{path}[{i}]", limits.id_problem(item))
            elif item in value[:i]:
                self.add(f"{path}[{i}]", f"Media {item} is listed twice: give each file once.")
        return MISSING if len(self.errors) > before else list(value)

    def time(self, value, path: str):
        if value is MISSING or value is None:
            return value
        try:
            return parse_iso(value)
        except ValidationFailed as exc:
            self.add(path, exc.message)
            return MISSING

    def recurrence(self, obj: dict, existing: Post | None):
        """{rule, until}: null (or, in a POST, absent) for a one-off post; absent in a PATCH keeps it."""
        value = obj.get("recurrence", MISSING)
        if value is MISSING:
            if existing is not None and existing.recurrence_rule:
                return RecurrenceInput(existing.recurrence_rule, existing.recurrence_until)
            return None
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add("recurrence", f"Must be an object {{rule, until}} or null, not {_kind(value)}.")
            return None
        before = len(self.errors)
        self.only(value, {"rule", "until"}, "recurrence.")
        rule = self.string(value, "rule", "recurrence.rule", required=True, nullable=False, limit=limits.RULE_MAX)
        until = self.time(self.string(value, "until", "recurrence.until"), "recurrence.until")
        if len(self.errors) > before or rule is MISSING:
            return None
        return RecurrenceInput(rule, _keep(until, None))

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(NOTHING_SAVED, field_errors=self.errors)


def _keep(value, default):
    return default if value is MISSING else value


def post_input(data: dict, existing: Post | None = None) -> PostInput:
    """POST takes body and targets; PATCH (with `existing`) keeps whatever it does not mention,
    down to each target's text, time, platform fields and files when its channel stays."""
    shape = Shape()
    shape.only(data, {"body", "link", "targets", "recurrence"})
    body = shape.string(data, "body", "body", required=existing is None, nullable=False, limit=limits.POST_TEXT_MAX)
    link = shape.string(data, "link", "link", limit=limits.LINK_MAX)
    raw_targets = data.get("targets", MISSING)
    old = {t.channel_id: t for t in existing.targets} if existing else {}
    targets: list[TargetInput] | None = None
    if raw_targets is MISSING:
        if existing is None:
            shape.add("targets", "Required: a list of {channel_id, text, scheduled_at, extra, media_ids}, "
                      "one per channel.")
    elif not isinstance(raw_targets, list):
        shape.add("targets", f"Must be an array of targets, not {_kind(raw_targets)}.")
    else:
        targets, seen = [], set()
        for i, item in enumerate(raw_targets):
            path = f"targets[{i}]"
            if not isinstance(item, dict):
                shape.add(path, f"Must be an object {{{', '.join(TARGET_KEYS)}}}, not {_kind(item)}.")
                continue
            shape.only(item, set(TARGET_KEYS), path + ".")
            channel_id = shape.integer(item, "channel_id", path + ".channel_id")
            text = shape.string(item, "text", path + ".text", limit=limits.POST_TEXT_MAX)
            when = shape.string(item, "scheduled_at", path + ".scheduled_at")
            when = shape.time(when, path + ".scheduled_at")
            extra = shape.extra(item, path + ".extra")
            media_ids = shape.ids(item, "media_ids", path + ".media_ids")
            if channel_id is MISSING:
                continue
            if channel_id in seen:
                shape.add(path + ".channel_id", f"Channel {channel_id} is listed twice: give each channel once.")
            seen.add(channel_id)
            before = old.get(channel_id)
            if extra is not MISSING and before is not None:
                extra = {**extra_of(before), **extra}  # a merge: keys left out keep their value
            targets.append(TargetInput(channel_id, _keep(text, before.text if before else None),
                                       _keep(when, before.scheduled_at if before else None),
                                       extra=_keep(extra, None), media_ids=_keep(media_ids, None)))
    series = shape.recurrence(data, existing)
    shape.done()
    if existing is None:
        return PostInput(body=body, link=_keep(link, None), targets=targets, recurrence=series)
    if targets is None:
        targets = [TargetInput(t.channel_id, t.text, t.scheduled_at) for t in existing.targets]
    return PostInput(body=_keep(body, existing.body), link=_keep(link, existing.link), targets=targets,
                     recurrence=series)


def fields(data: dict, spec: dict[str, bool]) -> dict:
    """A small action body: {name: required}; every field a string (or null when optional), at most its
    FIELD_LIMITS characters."""
    shape = Shape()
    shape.only(data, set(spec))
    values = {name: shape.string(data, name, name, required=required, nullable=not required,
                                 limit=FIELD_LIMITS.get(name, limits.SHORT_MAX))
              for name, required in spec.items()}
    shape.done()
    return {name: (None if value is MISSING else value) for name, value in values.items()}


AUDIT_INTS = ("actor_id", "unit_id", "channel_id", "post_id")


def audit_query(args) -> tuple[AuditFilter, int, int]:
    """The audit listing's filters and paging, from the query string."""
    shape = Shape()
    shape.only(args, {*AUDIT_INTS, "action", "since", "until", "page", "per_page"})
    ints = shape.query_ints(args, (*AUDIT_INTS, "page", "per_page"))
    shape.string(args, "action", "action", limit=limits.SHORT_MAX)
    if ints["per_page"] and ints["per_page"] > MAX_PER_PAGE:
        shape.add("per_page", f"At most {MAX_PER_PAGE} events a page; ask for the next page for more.")
    times: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        value = shape.time(args.get(name) or MISSING, name)
        times[name] = None if value is MISSING else value
    shape.done()
    audit_filter = AuditFilter(**{k: ints[k] for k in AUDIT_INTS}, action=args.get("action") or None, **times)
    return audit_filter, ints["page"] or 1, ints["per_page"] or 50
