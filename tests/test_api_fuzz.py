"""The API fuzzed against its own OpenAPI description with schemathesis, in process, on SQLite.

Every operation gets a bounded number of generated requests, valid and invalid by the document, each sent
with the tokens of an author, an approver and an administrator; then the operations the document links
(a post made, then read, edited, submitted, approved...) are walked as sequences. Any 5xx fails, and so
does any answer whose status, content type, headers or body the document does not describe. Hypothesis
runs derandomised, so CI sees the same cases every run and a failure is reproducible.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from desk import create_app
from desk.db import make_engine
from desk.migrate import upgrade
from desk.services import accounts
from desk.services.posts import PostInput, TargetInput, save_draft, submit

from conftest import OPERATOR, World

PERSONAS = ("author", "approver", "admin")
EXAMPLES = 30        # generated requests per operation (each sent three times, once per persona)
SCENARIOS = 25       # linked sequences, of up to STEPS calls each
STEPS = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Who makes which linked call: the author drafts, an approver decides, the administrator decides grants.
ACTING = {"approvePost": "approver", "rejectPost": "approver", "retractPost": "approver",
          "decideGrant": "admin", "revokeGrant": "admin", "listAudit": "admin"}
FUZZ_SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
CALLS: Counter = Counter()


def _app(folder: str):
    engine = make_engine(f"sqlite:///{folder}/desk.sqlite")
    upgrade(engine)
    app = create_app({"TESTING": True, "TWO_FACTOR_ENFORCED": False, "DESK_ENGINE": engine,
                      "ENV": {"DESK_SECRET_KEY": "test-secret", "DESK_MEDIA_DIR": f"{folder}/media"}})
    # A 500 must reach the checks as the answer a client would get, not as a traceback in the test.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


# Built when the module is collected: schemathesis makes one test per operation from the served document
# (its fixture-based loader does not run on this pytest). The database is filled by the fixture below.
FOLDER = tempfile.mkdtemp(prefix="desk-fuzz-")
atexit.register(shutil.rmtree, FOLDER, True)  # also when the tests here are deselected and never run
APP = _app(FOLDER)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)


@pytest.fixture(scope="module")
def tokens(request):
    """The personas, a draft and a post in review, in the fuzzed desk's database; their tokens."""
    with APP.extensions["desk.sessions"]() as s:
        world = World(s)
        made = {p: accounts.create_token(s, OPERATOR, getattr(world, p)) for p in PERSONAS}
        save_draft(s, world.author, PostInput("Road closed on the A40.", targets=[TargetInput(world.channel.id)]))
        waiting = save_draft(s, world.author, PostInput("Road open again.", targets=[TargetInput(world.channel.id)]))
        submit(s, world.author, waiting.post.id)
    yield made
    APP.extensions["desk.engine"].dispose()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and CALLS:
        single = {op: n for op, n in CALLS.items() if not op.startswith("linked ")}
        linked = {op: n for op, n in CALLS.items() if op.startswith("linked ")}
        reporter.write_line(f"API fuzz: {len(single)} operations, {sum(single.values()) // len(PERSONAS)} generated "
                            f"requests each sent as {', '.join(PERSONAS)}; {sum(linked.values())} calls to "
                            f"{len(linked)} operations in {SCENARIOS} linked scenarios")


def _bearer(tokens, who) -> dict:
    return {"Authorization": f"Bearer {tokens[who]}"}


@schema.parametrize()
@settings(max_examples=EXAMPLES, **FUZZ_SETTINGS)
def test_every_operation_answers_as_described(case, tokens):
    for who in PERSONAS:
        case.call_and_validate(headers=_bearer(tokens, who), checks=CHECKS)
        CALLS[case.operation.label] += 1


def test_linked_operations_answer_as_described(tokens):
    class Desk(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": _bearer(tokens, ACTING.get(case.operation.definition.raw.get("operationId"),
                                                          "author"))}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            CALLS[f"linked {case.operation.label}"] += 1
            case.validate_response(response, checks=CHECKS)

    Desk.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS, **FUZZ_SETTINGS))
    linked = {op for op in CALLS if op.startswith("linked ")}
    assert "linked POST /api/v1/posts" in linked or "linked POST /posts" in linked, sorted(linked)
    assert len(linked) > 3, sorted(linked)  # the walk went past the first call
