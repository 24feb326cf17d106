"""The building blocks of the API's OpenAPI description, and the registry its parts are gathered in.

Each route module describes its own routes with these helpers and registers that description with
`describes`; openapi.py assembles the document from the registry, so it never imports a route module.
"""
from __future__ import annotations

from collections.abc import Callable

from ...domain import limits

Part = Callable[[], tuple[dict, dict]]  # () -> (schemas, paths)
_PARTS: list[Part] = []


def describes(part: Part) -> Part:
    """Register a route module's (schemas, paths); the document takes them in the order registered."""
    _PARTS.append(part)
    return part


def parts() -> list[Part]:
    return list(_PARTS)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _null(schema: dict) -> dict:
    """The same schema, or null."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        out = {**schema, "type": [*types, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: dict, required: list[str] | None = None, description: str | None = None) -> dict:
    """A closed object: every property listed (all required unless said), nothing else."""
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required, "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 in UTC, e.g. 2026-06-01T09:00:00Z."}
TIME_IN = {"type": "string", "format": "date-time", "maxLength": limits.SHORT_MAX,
           "description": "ISO 8601 with its UTC offset (e.g. 2026-06-01T10:00:00+01:00 or ...Z); "
                          "a time without an offset is refused."}
# Every id (and page) the API takes: the server answers 400 (or 404 in a path) outside this range.
POSITIVE = {"type": "integer", "minimum": 1, "maximum": limits.MAX_ID}
ID = POSITIVE


def text(limit: int, description: str | None = None, *, not_blank: bool = False, min_length: int = 1) -> dict:
    """A string of at most `limit` characters; `not_blank`: the server refuses it empty or all spaces."""
    schema: dict = {"type": "string", "maxLength": limit}
    if not_blank:
        schema.update(minLength=min_length, pattern=r"\S")
    if description:
        schema["description"] = description
    return schema


def _json(schema_name: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _op(op_id: str, summary: str, ok: tuple[int, str, str], errors: tuple[int, ...], *,
        body: str | None = None, body_required: bool = True, parameters: list | None = None) -> dict:
    op = {"operationId": op_id, "summary": summary, "responses": {str(ok[0]): _json(ok[1], ok[2])}}
    for code in (401, *errors, *((415,) if body else ())):
        op["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
    op["responses"]["default"] = {"$ref": "#/components/responses/Edefault"}
    if body:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": _ref(body)}}}
    if parameters:
        op["parameters"] = parameters
    return op
