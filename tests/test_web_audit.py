"""The audit trail pages: who may read them, filters, paging, CSV export and the chain's verification."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timezone

from sqlalchemy import select, text

from desk.models import AuditEvent
from desk.services import audit_trail
from desk.services.audit_trail import CSV_COLUMNS

from conftest import OPERATOR, login, post_form


def seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', page)]


def expected(app, where=lambda e: True) -> list[int]:
    """Newest first, as the page lists them."""
    with app.extensions["desk.sessions"]() as s:
        return [e.seq for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())) if where(e)]


def record_at(app, actor, action: str, moment: datetime, **kw) -> int:
    with app.extensions["desk.sessions"]() as s:
        actor = s.merge(actor) if hasattr(actor, "email") else actor
        event = audit_trail.record(s, actor, action, "note", now=moment, **kw)
        s.commit()
        return event.seq


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_only_auditors_and_administrators_read_the_trail(app, client, web_world):
    login(client, "author@desk.test")
    assert ">Audit trail<" not in client.get("/dashboard").get_data(as_text=True)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export").status_code == 403
    assert post_form(client, "/audit/verify", {}, page_url="/dashboard").status_code == 403
    with app.extensions["desk.sessions"]() as s:
        refusals = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")
                             .order_by(AuditEvent.seq)).all()
    assert [(e.actor, json.loads(e.details)["attempted"]) for e in refusals] == [
        ("author@desk.test", "audit.read"), ("author@desk.test", "audit.export"), ("author@desk.test", "audit.verify")]

    for who in ("auditor@desk.test", "admin@desk.test"):
        other = app.test_client()
        login(other, who)
        assert ">Audit trail<" in other.get("/dashboard").get_data(as_text=True)
        page = other.get("/audit/").get_data(as_text=True)
        assert "access.refused" in page and "audit.read" in page


def test_the_trail_lists_newest_first_with_local_times_and_pretty_details(app, client, web_world):
    seq = record_at(app, web_world.author, "post.approved", utc(2026, 7, 1, 12, 0), post_id=41,
                    channel_id=web_world.channel.id, details={"comment": "Fine <b>by</b> me", "votes": [1, 2]})
    login(client, "auditor@desk.test")
    page = client.get("/audit/").get_data(as_text=True)
    assert seqs(page) == expected(app)[:50]
    row = re.search(r'<tr data-seq="%d">.*?</tr>' % seq, page, re.S).group(0)
    assert "Wed 01 Jul 2026 13:00 BST" in row and "Pat Press" in row and "author@desk.test" in row
    assert '<a href="/posts/41">post 41</a>' in row and "DPA training feed" in row
    assert "<dt>comment</dt><dd>Fine &lt;b&gt;by&lt;/b&gt; me</dd>" in row and "<dd>[1, 2]</dd>" in row


def test_filters_by_person_unit_channel_post_and_action(app, client, web_world):
    w = web_world
    record_at(app, w.approver, "post.approved", utc(2026, 6, 2, 9), post_id=7, channel_id=w.channel.id)
    record_at(app, w.outsider, "post.submitted", utc(2026, 6, 2, 9), post_id=8, channel_id=w.other_channel.id)
    login(client, "auditor@desk.test")

    def listed(**query):
        return seqs(client.get("/audit/", query_string=query).get_data(as_text=True))

    assert listed(person=w.approver.id) == expected(app, lambda e: e.actor_id == w.approver.id)
    co11 = listed(unit=w.other_unit.id)
    assert co11 and co11 == expected(app, lambda e: e.unit_id == w.other_unit.id or e.channel_id == w.other_channel.id)
    assert listed(channel=w.channel.id) == expected(app, lambda e: e.channel_id == w.channel.id)
    assert listed(post=8) == expected(app, lambda e: e.post_id == 8)
    assert listed(action="membership.added") == expected(app, lambda e: e.action == "membership.added")
    assert listed(action="post") == listed(action="post.") == listed(action="post.*") == expected(
        app, lambda e: e.action.startswith("post."))
    assert listed(action="*.created") == expected(app, lambda e: e.action.endswith(".created"))
    assert listed(action="post", person=w.outsider.id) == expected(app, lambda e: e.action == "post.submitted")
    page = client.get("/audit/", query_string={"action": "post", "unit": w.unit.id}).get_data(as_text=True)
    assert 'value="post"' in page and "Clear the filter" in page  # the filter stays on the page
    assert listed(action="no.such") == []


def test_a_date_range_is_whole_local_days_in_summer_and_winter(app, client, web_world):
    w = web_world
    at = lambda *when: record_at(app, w.admin, "note.day", utc(*when))  # noqa: E731
    summer = [at(2026, 7, 1, 22, 59), at(2026, 7, 1, 23, 0), at(2026, 7, 2, 22, 59), at(2026, 7, 2, 23, 0)]
    winter = [at(2026, 1, 14, 23, 59), at(2026, 1, 15, 0, 0), at(2026, 1, 16, 23, 59), at(2026, 1, 17, 0, 0)]
    login(client, "auditor@desk.test")

    def listed(**query):
        return seqs(client.get("/audit/", query_string=query).get_data(as_text=True))

    # 2 July in London (BST) runs from 23:00 UTC on 1 July to 23:00 UTC on 2 July.
    assert listed(since="2026-07-02", until="2026-07-02", action="note") == [summer[2], summer[1]]
    # 15 and 16 January (GMT) are the same hours in UTC.
    assert listed(since="2026-01-15", until="2026-01-16", action="note") == [winter[2], winter[1]]
    assert listed(until="2026-01-14", action="note") == [winter[0]]
    assert listed(since="2026-07-03", action="note") == [summer[3]]
    # Newest first means in the order written, whatever times the rows carry.
    assert listed(since="2026-01-17", until="2026-07-01", action="note") == [winter[3], summer[0]]

    page = client.get("/audit/", query_string={"since": "2026-07-03", "until": "2026-07-02"}).get_data(as_text=True)
    assert "The end date is before the start date" in page and seqs(page) == []
    page = client.get("/audit/", query_string={"since": "2 July", "post": "x"}).get_data(as_text=True)
    assert "Not a valid date value." in page and "Not a valid integer value." in page and seqs(page) == []


def test_pages_of_fifty(app, client, web_world):
    with app.extensions["desk.sessions"]() as s:
        for i in range(60):
            audit_trail.record(s, OPERATOR, "note.bulk", "note", i)
        s.commit()
    login(client, "auditor@desk.test")
    everything = expected(app)
    first = client.get("/audit/").get_data(as_text=True)
    assert seqs(first) == everything[:50] and "Older" in first and "Newer" not in first
    second = client.get("/audit/?page=2").get_data(as_text=True)
    assert seqs(second) == everything[50:100] and "Newer" in second
    bulk = client.get("/audit/?action=note.bulk&page=2").get_data(as_text=True)
    assert len(seqs(bulk)) == 10 and "page=1" in bulk and "action=note.bulk" in bulk


def test_csv_export_has_the_header_and_the_filtered_rows(app, client, web_world):
    login(client, "auditor@desk.test")
    r = client.get("/audit/export", query_string={"action": "membership.added", "unit": web_world.unit.id})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename=audit-\d{8}\.csv', r.headers["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == CSV_COLUMNS
    assert [int(row[0]) for row in rows[1:]] == expected(
        app, lambda e: e.action == "membership.added" and e.unit_id == web_world.unit.id)[::-1]
    assert len(rows) == 5 and all(row[4] == "membership.added" for row in rows[1:])

    everything = list(csv.reader(io.StringIO(client.get("/audit/export").get_data(as_text=True))))
    # Each export is itself recorded, after the rows it wrote: the copy holds all but its own record.
    assert len(everything) - 1 == len(expected(app)) - 1
    with app.extensions["desk.sessions"]() as s:
        exports = s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()
    assert [e.actor for e in exports] == ["auditor@desk.test"] * 2
    bad = client.get("/audit/export?since=nonsense")
    assert bad.status_code == 400 and "Not a valid date value." in bad.get_data(as_text=True)


def test_verify_reports_an_intact_chain_then_names_the_altered_row(app, client, web_world):
    login(client, "auditor@desk.test")
    total = len(expected(app))
    page = post_form(client, "/audit/verify", {}, page_url="/audit/").get_data(as_text=True)
    assert "The chain is intact" in page and f"{total} rows checked" in page
    assert seqs(page)  # the trail is still listed under the result

    # A database administrator edits a row behind the desk's back.
    with app.extensions["desk.engine"].begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET details = '{\"role\":\"admin\"}' WHERE seq = 5"))
    page = post_form(client, "/audit/verify?action=unit", {}, page_url="/audit/").get_data(as_text=True)
    assert "The chain is broken at row 5" in page
    assert "Row 5 was altered: its content no longer matches its hash." in page
    assert "4 rows before it checked and intact" in page
    assert seqs(page) == expected(app, lambda e: e.action.startswith("unit."))  # the filter was kept
