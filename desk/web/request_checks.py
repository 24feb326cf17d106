"""What every request's input must be before a view reads it, checked in one place for every route.

- An id in the path beyond the database's integer is answered 404, as any id with no row is, whatever the
  method (a converter that refused it would leave werkzeug answering 405 where another method matches).
- A query value or form field holding a NUL or half a surrogate pair, or longer than any field of the
  desk takes, is refused with 400 before a view passes it to the database (PostgreSQL keeps no NUL in
  text; no UTF-8 encodes a lone surrogate) and before the audit trail could copy it.
- A whole number read from the query string is held to [1, MAX_ID], or answered 400 naming the field.
The API answers these in JSON (its error handlers); the pages with the error page.
"""
from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from ..domain import limits
from ..domain.errors import ValidationFailed

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Digits enough for MAX_ID: a longer run of digits is refused before int() meets a thousand of them.
ID_DIGITS = len(str(limits.MAX_ID))


class BadInput(ValidationFailed):
    """A query value or form field that no view should see; `field_errors` names it."""


class IdConverter(IntegerConverter):
    """`<int:...>` in every route, which never hands int() a thousand digits: any number longer than
    MAX_ID's digits comes through as MAX_ID + 1, which `refuse_out_of_range` answers 404."""

    def to_python(self, value: str):
        if len(value) > ID_DIGITS:
            return limits.MAX_ID + 1
        return super().to_python(value)


def refuse_out_of_range(_endpoint, values) -> None:
    """An id in the path beyond the database's integer names no row: 404 before any view queries it."""
    if any(isinstance(v, int) and v > limits.MAX_ID for v in (values or {}).values()):
        raise NotFound("There is nothing at this address: no id is larger than "
                       f"{limits.MAX_ID}.")


def _problems(pairs) -> dict[str, list[str]]:
    """{field: [why]} for each name or value that cannot be stored, or is longer than any field takes."""
    problems: dict[str, list[str]] = {}
    for key, values in pairs:
        name = key if limits.text_problem(key) is None else "(a field's name)"
        for text in (key, *values):
            problem = limits.text_problem(text) or limits.length_problem(text, limits.FIELD_MAX, "field")
            if problem:
                problems.setdefault(name[:100], []).append(problem)
                break
    return problems


def form_problems() -> dict[str, list[str]]:
    """The form's fields and its files' names (their contents are the media checks' business)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.mimetype not in FORM_TYPES:
        return {}
    names = [(key, [f.filename or "" for f in files]) for key, files in request.files.lists()]
    return _problems([*request.form.lists(), *names])


def check_text() -> None:
    """Refuse, before any view, a query value or form field that cannot be stored or is too long."""
    problems = _problems(request.args.lists())
    # The API reads JSON, which its json_body checks; its one form (the upload) checks itself, so that
    # a body sent to a JSON route under a form's type is left unread here, for the route to answer 415.
    if request.blueprint != "api":
        problems.update(form_problems())
    if problems:
        where = ", ".join(f"'{name}'" for name in problems)
        raise BadInput(f"Nothing was saved: {where} held something the desk cannot take "
                       f"({next(iter(problems.values()))[0]}) Go back, correct it and send it again.",
                       field_errors=problems)


def id_value(value) -> int:
    """A form's id (a select's value, a checkbox's) as an int. Beyond the database's integer it names no
    row: a ValueError, which WTForms reports on the field, before any query is made with it."""
    number = int(value)
    if limits.id_problem(number):
        raise ValueError(limits.id_problem(number))
    return number


def query_int(name: str, default: int | None = None) -> int | None:
    """A whole number from the query string, in [1, MAX_ID]; `default` when absent or empty."""
    text = request.args.get(name, "")
    if not text.strip():
        return default
    number = limits.whole_number(text)
    problem = "Must be a whole number." if number is None else limits.id_problem(number)
    if problem:
        raise BadInput(f"The address asks for {name}={text[:40]!r}, which the desk cannot look up. {problem}",
                       field_errors={name: [problem]})
    return number


def register(app: Flask) -> None:
    """Before any blueprint is registered, so that every `<int:...>` in a route is bounded."""
    app.url_map.converters["int"] = IdConverter
    app.url_value_preprocessor(refuse_out_of_range)
    app.before_request(check_text)

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput):
        # The API's own handler answers its requests in JSON first; this one is for the pages.
        return render_template("error.html", error=exc, title="Not accepted"), 400
