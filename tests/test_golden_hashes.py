"""Golden values: what an approval is bound to, and the forms that years of audit rows depend on.

Every expected hash here is written out, computed once with the desk of the day; docs/hash-formats.md
describes the forms. A failure here means one of two things, and neither is fixed by pasting in the new value:
- a content hash changed: an approval may no longer cover what it covered (a link or an end date could
  change without a new approval), or every post in review and every approval on record stops matching;
- an audit form changed: every row already written fails verification after the upgrade.
tests/data/audit_sample.json stands for rows already written; see tests/data/make_audit_sample.py.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from desk.domain import audit
from desk.domain import workflow as wf
from desk.models import AuditEvent, Post
from desk.services import audit_trail, media, posts
from desk.services.post_content import canonical_extra
from desk.services.posts import PostInput, RecurrenceInput, TargetInput

from media_samples import jpeg, png

LONDON = ZoneInfo("Europe/London")
SAMPLE = Path(__file__).parent / "data" / "audit_sample.json"
DOC = Path(__file__).parent.parent / "docs" / "hash-formats.md"
SAMPLE_ROWS = 60
SAMPLE_HEAD = "b0769d65a655fc9d6b991c0291ab88d4e57a1d5cea34dfacb13c28f7ea73c187"

# ---- the content hash: what an approval is bound to ------------------------------------------------

BODY = "Appeal: café owner robbed."
LINK = "https://www.met.police.uk/appeal?id=7&lang=cy"
AT = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
AT_MICRO = datetime(2026, 6, 1, 17, 45, 30, 250000, tzinfo=UTC)
UNTIL = datetime(2026, 9, 30, 22, 59, tzinfo=UTC)
SHA_A, SHA_B = "a" * 64, "b" * 64
EXTRA = {"title": "Café on Upper Street ☕ reopens", "tags": ["café", "🚓"], "privacy": "public", "empty": "",
         "none": None, "no_tags": []}
EXTRA_JSON = '{"privacy":"public","tags":["café","🚓"],"title":"Café on Upper Street ☕ reopens"}'


def plain():
    return dict(body="Road closed on the A40 until 6pm.", link=None, targets=[wf.TargetSpec(3, None, None)])


def rich(**changes):
    """Two channels, one with its own words, a time with microseconds, extra fields and two files (b before a)."""
    own = dict(channel_id=5, text="Short 🚓 text", scheduled_at=AT_MICRO, extra=EXTRA_JSON, media=(SHA_B, SHA_A))
    own.update(changes)
    return dict(body=BODY, link=LINK, targets=[wf.TargetSpec(**own), wf.TargetSpec(2, None, AT)])


def series(rule="daily 08:00", until=UNTIL):
    return dict(body="Traffic and travel.", link=None, targets=[wf.TargetSpec(3, None, None)],
                recurrence=(rule, until))


CONTENT_GOLDEN = {
    "plain": (plain(), "84429de2df6c53b031a41fd71cfdc9ae108aa174f5c66a49a437ed6cc84d550d"),
    "with a link": ({**plain(), "link": "https://www.met.police.uk/a40"},
                    "6ca8d04858a7132edf0347bf52e815498d5322d24998e9a46cbfb5174af38cf9"),
    "own text, times, extra, media": (rich(), "ed4024d6fa84e7d3af143ecebf578efc323d99baa7ef8d30630164b265c1539d"),
    "series until a date": (series(), "906b730e66f4753854a3d9f1ff95fa4e82299723260dacca6695e153aee67423"),
    "series without an end": (series(until=None),
                              "939c1ef9693148fb62aa5ff60df1ed052bc63fae8783fd1a0b09a1250ad8deb4"),
}

# The worked example of docs/hash-formats.md: exactly the text that is hashed for rich().
RICH_MATERIAL = (
    '{"body":"Appeal: café owner robbed.","link":"https://www.met.police.uk/appeal?id=7&lang=cy",'
    '"targets":[[2,"","2026-06-01T09:30:00+00:00","{}",[]],'
    '[5,"Short 🚓 text","2026-06-01T17:45:30.250000+00:00",'
    '"{\\"privacy\\":\\"public\\",\\"tags\\":[\\"café\\",\\"🚓\\"],\\"title\\":\\"Café on Upper Street ☕ reopens\\"}",'
    '["' + SHA_B + '","' + SHA_A + '"]]]}'
)
SERIES_MATERIAL = ('{"body":"Traffic and travel.","link":"","recurrence":["daily 08:00","2026-09-30T22:59:00+00:00"],'
                   '"targets":[[3,"",null,"{}",[]]]}')


def content(spec):
    spec = dict(spec)
    return wf.content_hash(spec.pop("body"), spec.pop("link"), spec.pop("targets"), spec.pop("recurrence", None))


@pytest.mark.parametrize("name", CONTENT_GOLDEN)
def test_content_hash_golden_values(name):
    spec, expected = CONTENT_GOLDEN[name]
    assert content(spec) == expected


def test_the_content_hash_is_the_sha256_of_this_exact_text():
    sha = lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert sha(RICH_MATERIAL) == CONTENT_GOLDEN["own text, times, extra, media"][1]
    assert sha(SERIES_MATERIAL) == CONTENT_GOLDEN["series until a date"][1]


def test_the_extra_fields_enter_as_sorted_compact_utf8_json_without_empty_values():
    assert canonical_extra(EXTRA) == EXTRA_JSON
    assert canonical_extra(None) == canonical_extra({}) == "{}"


def test_an_approval_is_bound_to_the_link():
    base = content(plain())
    assert content({**plain(), "link": "https://www.met.police.uk/a40"}) != base
    assert content(rich()) != content({**rich(), "link": LINK + "#"})
    assert content({**plain(), "link": ""}) == base  # no link, however it is written, is one thing


def test_an_approval_is_bound_to_the_series_end_date():
    dated = content(series())
    assert content(series(until=None)) != dated
    assert content(series(until=UNTIL + timedelta(days=1))) != dated
    assert content(series(until=UNTIL + timedelta(microseconds=1))) != dated


def test_an_approval_is_bound_to_the_series_rule():
    assert content(series(rule="daily 07:00")) != content(series())
    one_off = {**plain(), "body": "Traffic and travel."}
    assert content(series(until=None)) != content(one_off)  # a series without an end is not a one-off


def test_an_approval_is_bound_to_each_channel_s_time():
    base = content(rich())
    assert content(rich(scheduled_at=AT_MICRO + timedelta(microseconds=1))) != base
    assert content(rich(scheduled_at=None)) != base


def test_an_approval_is_bound_to_the_extra_fields():
    base = content(rich())
    assert content(rich(extra=canonical_extra({**EXTRA, "privacy": "unlisted"}))) != base
    assert content(rich(extra="{}")) != base


def test_an_approval_is_bound_to_the_files_and_their_order():
    base = content(rich())
    assert content(rich(media=(SHA_A, SHA_B))) != base  # the order they were attached in, not sorted
    assert content(rich(media=(SHA_B,))) != base


# ---- the same rules through the services: an edit of what was approved is kept, and withdraws it ------

def approved_post(world, now, **fields):
    s = world.session
    data = PostInput(body="Road closed on the A40 until 6pm.", targets=[TargetInput(world.channel.id)], **fields)
    post = posts.save_draft(s, world.author, data, now=now).post
    posts.submit(s, world.author, post.id, now=now)
    posts.approve(s, world.approver, post.id, expected_hash=post.content_hash, now=now)
    return post, data


def reloaded(session, post_id):
    session.expire_all()
    return session.get(Post, post_id)


def edited_event(session, post_id):
    rows = session.scalars(select(AuditEvent).where(AuditEvent.post_id == post_id,
                                                    AuditEvent.action == "post.edited")).all()
    return [json.loads(e.details) for e in rows]


def assert_needs_a_new_approval(session, post_id, approved_hash):
    post = reloaded(session, post_id)
    assert post.status == wf.DRAFT and post.content_hash != approved_hash
    assert post.approvals and all(a.withdrawn_at is not None for a in post.approvals)
    assert posts.votes_of(post) == []
    [event] = edited_event(session, post_id)
    assert event["approvals_withdrawn"] == 1 and event["previous_hash"] == approved_hash
    return post


def test_editing_only_the_link_of_an_approved_post_withdraws_its_approval_and_keeps_the_edit(world, now):
    post, data = approved_post(world, now, link="https://www.met.police.uk/a40")
    assert post.status == wf.APPROVED
    approved_hash = post.content_hash
    data.link = "https://www.met.police.uk/a40-diversions"
    posts.save_draft(world.session, world.author, data, post_id=post.id, now=now)
    post = assert_needs_a_new_approval(world.session, post.id, approved_hash)
    assert post.link == "https://www.met.police.uk/a40-diversions"


@pytest.mark.parametrize("before, after", [
    (datetime(2026, 6, 30, 22, 59, tzinfo=UTC), datetime(2026, 7, 31, 22, 59, tzinfo=UTC)),
    (None, datetime(2026, 6, 30, 22, 59, tzinfo=UTC)),
    (datetime(2026, 6, 30, 22, 59, tzinfo=UTC), None),
], ids=["moved", "added", "removed"])
def test_editing_only_the_end_date_of_a_running_series_withdraws_its_approval_and_keeps_the_edit(
        world, now, before, after):
    series_post, data = approved_post(world, now, recurrence=RecurrenceInput("daily 08:00", before))
    assert series_post.status == wf.RECURRING
    approved_hash = series_post.content_hash
    data.recurrence = RecurrenceInput("daily 08:00", after)
    posts.save_draft(world.session, world.author, data, post_id=series_post.id, now=now)
    series_post = assert_needs_a_new_approval(world.session, series_post.id, approved_hash)
    assert series_post.recurrence_until == after and series_post.recurrence_rule == "daily 08:00"


def test_the_stored_hash_covers_every_field_of_the_post_and_recomputes_from_the_database(world, now, tmp_path):
    s = world.session
    photo = media.store_upload(s, world.author, world.unit.id, "map.png", png(), str(tmp_path), now=now)
    still = media.store_upload(s, world.author, world.unit.id, "scene.jpg", jpeg(), str(tmp_path), now=now)
    when = now + timedelta(days=1, microseconds=250000)
    data = PostInput(body=BODY, link=LINK, targets=[
        TargetInput(world.channel.id, "Own words 🚓", when, EXTRA, [still.id, photo.id]),
        TargetInput(world.channel2.id, None, now + timedelta(days=2))])
    post = posts.save_draft(s, world.author, data, now=now).post
    expected = wf.content_hash(BODY, LINK, [
        wf.TargetSpec(world.channel.id, "Own words 🚓", when, EXTRA_JSON, (still.sha256, photo.sha256)),
        wf.TargetSpec(world.channel2.id, None, now + timedelta(days=2))])
    assert post.content_hash == expected
    assert posts._hash_of(reloaded(s, post.id)) == expected  # times, extra and files come back as they went in


# ---- the audit row hash -----------------------------------------------------------------------------

# Row 1 of the committed sample, and two more chained onto it.
ROW_1 = {"seq": 1, "prev_hash": audit.GENESIS, "actor_id": None, "actor": "cli:duty-officer",
         "at": "2026-03-02T08:00:00.000000Z", "action": "unit.created", "object_type": "unit", "object_id": "1",
         "unit_id": 1, "channel_id": None, "post_id": None,
         "details": '{"code":"DPA","name":"Directorate of Public Affairs"}',
         "hash": "824603a84c7b11519cc11cd961c20f6694a8a477c3a87078ea6fc3bd089413ab"}
ROW_2 = {"seq": 2, "prev_hash": ROW_1["hash"], "actor_id": 4, "actor": "approver@desk.example",
         "at": "2026-06-01T09:15:30.123456Z", "action": "post.approved", "object_type": "post", "object_id": "17",
         "unit_id": None, "channel_id": None, "post_id": 17,
         "details": '{"channels":[3,1],"comment":"Zoë says: go — 🚓","remaining":{}}',
         "hash": "1507e89d3bcadefb89d8ddb9695cbad88d81dc0593db705ec83c3e465d034eea"}
ROW_3 = {"seq": 3, "prev_hash": ROW_2["hash"], "actor_id": None, "actor": "anonymous",
         "at": "2026-06-01T09:20:00.999999Z", "action": "auth.sign_in_failed", "object_type": "user",
         "object_id": None, "unit_id": None, "channel_id": None, "post_id": None, "details": "{}",
         "hash": "11dc1d870f4cb70c35d6f63670816deedc96c1760a507183c5ec8a9aaff48a2b"}

ROW_1_MATERIAL = ('[1,"0000000000000000000000000000000000000000000000000000000000000000",null,"cli:duty-officer",'
                  '"2026-03-02T08:00:00.000000Z","unit.created","unit","1",1,null,null,'
                  '"{\\"code\\":\\"DPA\\",\\"name\\":\\"Directorate of Public Affairs\\"}"]')
ROW_2_MATERIAL = ('[2,"824603a84c7b11519cc11cd961c20f6694a8a477c3a87078ea6fc3bd089413ab",4,"approver@desk.example",'
                  '"2026-06-01T09:15:30.123456Z","post.approved","post","17",null,null,17,'
                  '"{\\"channels\\":[3,1],\\"comment\\":\\"Zoë says: go — 🚓\\",\\"remaining\\":{}}"]')

HASHED_FIELDS = ("seq", "prev_hash", "actor_id", "actor", "at", "action", "object_type", "object_id", "unit_id",
                 "channel_id", "post_id", "details")


def recompute(row: dict) -> str:
    """The row hash with the standard library alone, as docs/hash-formats.md gives it to an auditor."""
    material = json.dumps([row[k] for k in HASHED_FIELDS], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("row", [ROW_1, ROW_2, ROW_3], ids=["system actor", "person, unicode", "anonymous, nulls"])
def test_row_hash_golden_values(row):
    assert audit.row_hash(row) == row["hash"] == recompute(row)


def test_the_row_hash_is_the_sha256_of_this_exact_text():
    for row, material in ((ROW_1, ROW_1_MATERIAL), (ROW_2, ROW_2_MATERIAL)):
        assert hashlib.sha256(material.encode("utf-8")).hexdigest() == row["hash"]


def test_the_three_golden_rows_are_a_chain():
    report = audit.verify_chain([ROW_1, ROW_2, ROW_3])
    assert report.ok and report.checked == 3 and report.head_hash == ROW_3["hash"]


def test_a_row_may_carry_its_time_as_a_datetime_in_any_zone():
    moment = datetime(2026, 6, 1, 6, 45, 30, 123456, tzinfo=ZoneInfo("America/St_Johns"))
    assert audit.row_hash({**ROW_2, "at": moment}) == ROW_2["hash"]


@pytest.mark.parametrize("moment, expected", [
    (datetime(2026, 6, 1, 9, 0, tzinfo=UTC), "2026-06-01T09:00:00.000000Z"),
    (datetime(2026, 6, 1, 9, 0, 0, 123456, tzinfo=UTC), "2026-06-01T09:00:00.123456Z"),
    (datetime(2026, 6, 1, 9, 0, 0, 1, tzinfo=UTC), "2026-06-01T09:00:00.000001Z"),
    (datetime(2026, 6, 1, 10, 0, tzinfo=LONDON), "2026-06-01T09:00:00.000000Z"),  # BST
    (datetime(2026, 1, 15, 9, 0, tzinfo=LONDON), "2026-01-15T09:00:00.000000Z"),  # GMT
    (datetime(2026, 7, 1, 6, 30, tzinfo=ZoneInfo("America/St_Johns")), "2026-07-01T09:00:00.000000Z"),
    (datetime(2026, 1, 1, 20, 0, tzinfo=ZoneInfo("Australia/Lord_Howe")), "2026-01-01T09:00:00.000000Z"),
    (datetime(2026, 1, 1, 0, 15, tzinfo=timezone(timedelta(hours=5, minutes=45))), "2025-12-31T18:30:00.000000Z"),
    (datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
     "2026-01-01T09:29:59.999999Z"),
], ids=["UTC", "microseconds", "one microsecond", "London summer", "London winter", "St John's", "Lord Howe",
        "+05:45 across the new year", "-09:30 across the new year"])
def test_canonical_time(moment, expected):
    assert audit.canonical_time(moment) == expected


@pytest.mark.parametrize("details, expected", [
    (None, "{}"),
    ({}, "{}"),
    ({"b": 1, "a": 2, "B": 3, "_": 4, "aa": 5}, '{"B":3,"_":4,"a":2,"aa":5,"b":1}'),  # code point order
    ({"z": {"y": 1, "x": {"w": 2, "v": 3}}, "list": [3, 1, 2, {"b": 1, "a": 2}]},
     '{"list":[3,1,2,{"a":2,"b":1}],"z":{"x":{"v":3,"w":2},"y":1}}'),  # nested keys sorted, lists kept in order
    ({"name": "Zoë café ☕ 🚓 警察 شرطة", "combining": "e\u0301", "sep": "a\u2028b"},
     # The characters themselves (\u0301 and \u2028 are Python's way to write them here), not JSON \u escapes.
     '{"combining":"e\u0301","name":"Zoë café ☕ 🚓 警察 شرطة","sep":"a\u2028b"}'),
    ({"id": 7, "ref": "7", "float": 2.5, "big": 2 ** 70, "neg": -1, "tiny": 1e-07},
     '{"big":1180591620717411303424,"float":2.5,"id":7,"neg":-1,"ref":"7","tiny":1e-07}'),
    ({"none": None, "yes": True, "no": False, "empty_list": [], "empty_dict": {}, "tuple": (1, "two")},
     '{"empty_dict":{},"empty_list":[],"no":false,"none":null,"tuple":[1,"two"],"yes":true}'),
    ({"utc": datetime(2026, 6, 1, 9, 0, tzinfo=UTC), "london": datetime(2026, 6, 1, 10, 0, 0, 500000, tzinfo=LONDON),
      "day": date(2026, 6, 1)},  # str(): a space, the value's own offset, microseconds only when there are some
     '{"day":"2026-06-01","london":"2026-06-01 10:00:00.500000+01:00","utc":"2026-06-01 09:00:00+00:00"}'),
    ({"text": "quote \" backslash \\ newline \n tab \t bell \x07 nul \x00 </script>"},
     '{"text":"quote \\" backslash \\\\ newline \\n tab \\t bell \\u0007 nul \\u0000 </script>"}'),
], ids=["none", "empty", "key order", "nested", "non-ascii", "numbers", "null and booleans", "times",
        "escapes"])
def test_canonical_details(details, expected):
    assert audit.canonical_details(details) == expected


def test_secret_keys_are_redacted_at_any_depth_whatever_their_case():
    details = {"password": "hunter2", "Token": "t", "nested": {"ACCESS_TOKEN": "a", "refresh_token": "r", "keep": 1},
               "list": [{"client_secret": "c"}, {"secret": {"deep": "x"}}], "credentials": ["a", "b"], "token_id": 5}
    assert audit.canonical_details(details) == (
        '{"Token":"[redacted]","credentials":"[redacted]","list":[{"client_secret":"[redacted]"},'
        '{"secret":"[redacted]"}],"nested":{"ACCESS_TOKEN":"[redacted]","keep":1,"refresh_token":"[redacted]"},'
        '"password":"[redacted]","token_id":5}')
    assert audit.SECRET_KEYS == {"password", "token", "access_token", "refresh_token", "secret", "credentials",
                                 "client_secret"}


# ---- the committed sample: rows already written, which every version must still verify ---------------

def sample_rows() -> list[dict]:
    return json.loads(SAMPLE.read_text(encoding="ascii"))


def test_the_sample_verifies_and_ends_at_its_recorded_head():
    report = audit.verify_chain(sample_rows())
    assert report.ok, report.problem
    assert report.checked == SAMPLE_ROWS and report.head_hash == SAMPLE_HEAD


def test_every_row_of_the_sample_recomputes_with_the_standard_library_alone():
    rows = sample_rows()
    for row in rows:
        assert audit.row_hash(row) == recompute(row) == row["hash"], row["seq"]
    assert len(rows) == SAMPLE_ROWS  # the loop ran over every row of the sample


def test_the_content_hashes_on_record_in_the_sample_recompute_from_the_versions_beside_them():
    checked = 0
    for row in sample_rows():
        d = json.loads(row["details"])
        if "targets" not in d or "content_hash" not in d:
            continue
        specs = [wf.TargetSpec(t["channel_id"], t["text"],
                               datetime.fromisoformat(t["scheduled_at"]) if t["scheduled_at"] else None,
                               canonical_extra(t["extra"]), tuple(m["sha256"] for m in t["media"]))
                 for t in d["targets"]]
        rec = d.get("recurrence")
        rule = (rec["rule"], datetime.fromisoformat(rec["until"]) if rec["until"] else None) if rec else None
        assert wf.content_hash(d["body"], d["link"], specs, rule) == d["content_hash"], row["seq"]
        checked += 1
    assert checked >= 10


def test_the_sample_covers_every_kind_of_value():
    rows = sample_rows()
    families = {r["action"].split(".")[0] for r in rows}
    assert families >= {"access", "audit", "auth", "channel", "credentials", "grant", "grants", "media",
                        "membership", "pause", "post", "target", "template", "token", "two_factor", "unit", "user"}
    actors = {r["actor"].split(":")[0] for r in rows if r["actor_id"] is None}
    assert actors == {"cli", "worker", "anonymous"}
    for column in ("object_id", "unit_id", "channel_id", "post_id"):
        assert any(r[column] is None for r in rows) and any(r[column] is not None for r in rows), column
    times = [r["at"] for r in rows]
    assert any(t.endswith(".000000Z") for t in times) and any(not t.endswith(".000000Z") for t in times)
    text = "".join(r["details"] for r in rows)
    assert "[redacted]" in text and "🚓" in text and "\\u0000" in text and max(map(len, text.split('"'))) > 5000
    assert any(isinstance(v, dict) for r in rows for v in json.loads(r["details"]).values())


def doc_code() -> dict:
    """The Python blocks of docs/hash-formats.md, run as an auditor would run them."""
    namespace = {"__name__": "hash_formats_doc"}
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        exec(block, namespace)
    return namespace


def test_the_code_in_the_docs_recomputes_every_hash_of_the_sample():
    code = doc_code()
    versions = 0
    for row in sample_rows():
        assert code["row_hash"](row) == row["hash"], row["seq"]
        d = json.loads(row["details"])
        if "targets" in d and "content_hash" in d:
            assert code["content_hash_of"](d) == d["content_hash"], row["seq"]
            versions += 1
    assert versions >= 10


def as_stored(row: dict) -> AuditEvent:
    """A sample row as the table holds it. Only `at` differs in type: the column keeps a UTC time, and the
    canonical text has every digit of it (microseconds, UTC), so parsing it back loses nothing."""
    at = datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return AuditEvent(**{k: row[k] for k in HASHED_FIELDS if k != "at"}, at=at, hash=row["hash"])


def test_the_sample_verifies_when_read_from_the_database(session, tmp_path):
    rows = sample_rows()
    session.add_all([as_stored(r) for r in rows])
    session.commit()
    session.expire_all()
    report = audit_trail.verify(session)
    assert report.ok, report.problem
    assert report.checked == SAMPLE_ROWS and report.head_hash == SAMPLE_HEAD
    stored = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [audit_trail.event_row(e) for e in stored] == rows  # every value comes back as it was written
    export = tmp_path / "audit.csv"
    with export.open("w", encoding="utf-8", newline="") as out:
        audit_trail.export_csv(session, audit_trail.AuditFilter(), out)
    assert doc_code()["verify_export"](str(export)) == (SAMPLE_ROWS, SAMPLE_HEAD)
    # and the desk appends to it as to its own trail
    event = audit_trail.record(session, audit_trail.SystemActor("cli:test"), "unit.created", "unit", 9)
    session.commit()
    assert event.seq == SAMPLE_ROWS + 1 and event.prev_hash == SAMPLE_HEAD and audit_trail.verify(session).ok
