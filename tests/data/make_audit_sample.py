"""How tests/data/audit_sample.json was made: once, with the desk of the day. Not part of the suite.

The sample stands for audit rows that are already in the databases of the force: rows every later
version of the desk must still verify. So it is never regenerated to make a failing test pass: if
tests/test_golden_hashes.py fails on the sample, the change broke the verification of existing
trails. This script refuses to overwrite a file that exists; it is kept to show where the rows came from.

It runs a day of the desk through the real services (admin, sign-in, media, posts, approvals, an edit
that withdraws an approval, publishing by the worker, a refusal, grants, a series and its occurrences,
a pause, an export) on a fresh SQLite database with a frozen clock, then appends rows written by
audit_trail.record itself with the awkward values the services rarely produce: unicode of every
plane, control characters, nested structures, secrets to be redacted, long text, empty and null ids,
numbers, and times with and without microseconds given in other zones.

    .venv/bin/python tests/data/make_audit_sample.py tests/data/audit_sample.json
"""
from __future__ import annotations

import io
import json
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from sqlalchemy import select  # noqa: E402

from desk.db import make_engine, make_session_factory  # noqa: E402
from desk.domain.errors import PermissionDenied  # noqa: E402
from desk.migrate import upgrade  # noqa: E402
from desk.models import AuditEvent  # noqa: E402
from desk.platforms import PlatformContext, publisher_for  # noqa: E402
from desk.services import (  # noqa: E402
    accounts,
    admin,
    audit_trail,
    grant_queries,
    grants,
    media,
    pauses,
    posts,
    publishing,
    recurring,
    templates,
    two_factor,
)
from desk.services.audit_trail import AuditFilter, SystemActor  # noqa: E402
from desk.services.grant_queries import GrantFilter  # noqa: E402
from desk.services.posts import PostInput, RecurrenceInput, TargetInput  # noqa: E402
from desk.services.templates import TemplateInput  # noqa: E402

from media_samples import png  # noqa: E402

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "sample-password-1"
OPERATOR = SystemActor("cli:duty-officer")


class Clock:
    """The desk asks desk.domain.clock.utcnow for the time; every module that imported it sees this one."""

    def __init__(self):
        self.now = T0

    def at(self, minutes: float, microsecond: int = 0) -> datetime:
        self.now = (T0 + timedelta(minutes=minutes)).replace(microsecond=microsecond)
        return self.now

    def freeze(self):
        for name, module in list(sys.modules.items()):
            if (name == "desk" or name.startswith("desk.")) and hasattr(module, "utcnow"):
                module.utcnow = lambda: self.now


def day_of_the_desk(s, sessions, clock: Clock, media_dir: str) -> None:
    at = clock.at
    dpa = admin.create_unit(s, OPERATOR, "DPA", "Directorate of Public Affairs", now=at(0))
    co11 = admin.create_unit(s, OPERATOR, "CO11", "Public Order — Trefn Gyhoeddus", now=at(1))
    mk = lambda email, name, minute, **kw: admin.create_user(s, OPERATOR, email, name, PASSWORD, now=at(minute), **kw)
    admin_user = mk("admin@desk.example", "Dana Admin", 2, is_admin=True)
    manager = mk("manager@desk.example", "Siân Manager", 3)
    author = mk("author@desk.example", "Pat Press", 4, line_manager_email="manager@desk.example")
    approver = mk("approver@desk.example", "Zoë Approver", 5)
    auditor = mk("auditor@desk.example", "Alex Auditor", 6, is_auditor=True)
    outsider = mk("outsider@desk.example", "Olly Other", 7)
    admin.add_membership(s, OPERATOR, author.id, dpa.id, "author", now=at(8))
    admin.add_membership(s, OPERATOR, approver.id, dpa.id, "approver", now=at(8, 250000))
    admin.add_membership(s, OPERATOR, outsider.id, co11.id, "author", now=at(8, 500000))
    feed = admin.create_channel(s, OPERATOR, dpa.id, "training", "DPA training feed", now=at(9))
    events = admin.create_channel(s, OPERATOR, co11.id, "training", "CO11 event feed", approvals_required=2,
                                  now=at(10))
    admin.update_channel(s, admin_user, events.id, name="CO11 event feed (Notting Hill)", now=at(11))
    grants.update_unit_policy(s, admin_user, dpa.id, 90, True, now=at(12))
    grants.update_unit_policy(s, admin_user, co11.id, 30, False, now=at(12, 750000))
    for u in (author, approver, manager, outsider):
        s.refresh(u)

    accounts.sign_in(s, "author@desk.example", PASSWORD, address="192.0.2.10", now=at(20, 123456))
    accounts.sign_in(s, "nobody@desk.example", "guess", address="2001:db8::7", now=at(20, 999999))
    photo = media.store_upload(s, author, dpa.id, "scene café.png", png(), media_dir, now=at(21))

    # A post with a link, its own text for the channel, extra fields and a photo; approved, edited, approved again.
    when = at(24 * 60)  # tomorrow 08:00 UTC
    data = PostInput(body="Appeal: café owner robbed on Upper Street 🚓", link="https://www.met.police.uk/appeal/1",
                     targets=[TargetInput(feed.id, "Appeal 🚓 — can you help?", when,
                                          {"title": "Café robbery", "tags": ["appeal", "N1"], "empty": ""},
                                          [photo.id])])
    post = posts.save_draft(s, author, data, now=at(22)).post
    posts.submit(s, author, post.id, now=at(23))
    try:
        posts.approve(s, outsider, post.id, now=at(24))  # access.refused
    except PermissionDenied:
        pass
    posts.approve(s, approver, post.id, expected_hash=post.content_hash, comment="Fine — go.", now=at(25))
    data.link = "https://www.met.police.uk/appeal/1?lang=cy"
    posts.save_draft(s, author, data, post_id=post.id, now=at(26))  # withdraws the approval
    posts.submit(s, author, post.id, now=at(27))
    posts.approve(s, approver, post.id, now=at(28))

    # A rejected post: the comment has quotes, a backslash and a new line.
    other = posts.save_draft(s, author, PostInput("Roads closed\tall day.", None, [TargetInput(feed.id)]),
                             now=at(30)).post
    posts.submit(s, author, other.id, now=at(31))
    posts.reject(s, approver, other.id, 'Say "which" roads.\nAnd the C:\\ drive is not a road.', now=at(32))

    # Grants: asked, approved (times in the details), revoked; another asked and refused.
    g = grants.request(s, author, events.id, "author", "Cover the carnival weekend for the events team.",
                       period_days=7, now=at(40))
    grants.decide(s, manager, g.id, True, comment="Yes, for the carnival.", now=at(41, 1))
    grants.revoke(s, manager, g.id, "Carnival cancelled.", now=at(42))
    g2 = grants.request(s, author, events.id, "approver", "Second key over the carnival weekend.", now=at(43))
    grants.decide(s, manager, g2.id, False, comment="Approvers come from the events team.", now=at(44))

    # A series with an end date, approved, and its occurrences made by the worker.
    until = datetime(2026, 3, 31, 22, 59, tzinfo=UTC)
    series = posts.save_draft(s, author, PostInput("Traffic and travel: the A40 this morning.", None,
                                                   [TargetInput(feed.id)], RecurrenceInput("daily 08:00", until)),
                              now=at(50)).post
    posts.submit(s, author, series.id, now=at(51))
    posts.approve(s, approver, series.id, now=at(52))
    clock.now = at(53)
    recurring.generate(s, at(53), worker="sample-1", zone=LONDON)

    templates.create_template(s, approver, dpa.id, TemplateInput(
        "Road closure", "The {road} is closed until {until}.", channel_ids=[feed.id],
        fields=[{"name": "road", "label": "Road", "type": "text", "limit": 60},
                {"name": "until", "label": "Until", "type": "text", "limit": 20}]), now=at(56))
    accounts.create_token(s, admin_user, author, now=at(57))
    two_factor.start_enrolment(s, approver, now=at(58, 42))
    grant_queries.export_csv(s, auditor, GrantFilter(role="author", live_since=datetime(2026, 3, 1, tzinfo=UTC),
                                                     live_until=datetime(2026, 4, 1, tzinfo=UTC)),
                             io.StringIO(), now=at(59))
    admin.update_user(s, admin_user, approver.id, name="Zoë Approver-Hughes", password="a-new-password-2",
                      now=at(60))
    p = pauses.pause(s, admin_user, "Critical incident: hold everything.", now=at(61))
    pauses.resume(s, admin_user, p.id, now=at(62))
    export_filter = AuditFilter(post_id=post.id, since=datetime(2026, 3, 1, tzinfo=UTC))
    clock.now = at(63)
    audit_trail.export(s, auditor, export_filter, io.StringIO(), "download")
    accounts.sign_out(s, author, now=at(64))

    # The next morning the worker sends the edited, approved post.
    due = when + timedelta(seconds=1, microseconds=500)
    clock.now = due
    claims = publishing.claim_due(s, "sample-1", now=due)
    ref = publisher_for(claims[0].channel, PlatformContext(settings=None, session_factory=sessions)).publish(
        claims[0].request)
    publishing.record_success(s, claims[0], "sample-1", ref, now=due + timedelta(seconds=2))


def awkward_rows(s, clock: Clock) -> None:
    """Values the services rarely write, through the same record() they use."""
    cli = SystemActor("cli:ops-büro")
    rec = lambda *a, **kw: audit_trail.record(s, *a, **kw)
    at = lambda minutes, microsecond=0: clock.at(24 * 60 + minutes, microsecond)  # the morning after
    rec(cli, "channel.updated", "channel", 1, channel_id=1, unit_id=1, now=at(70),
        details={"unicode": {"welsh": "Heddlu Dyfed-Powys", "german": "Straße", "greek": "Αστυνομία",
                             "chinese": "警察", "arabic": "شرطة", "combining": "e\u0301", "emoji": "🚓👮🏽‍♀️",
                             "astral": "\U0001d11e", "separators": "a\u2028b\u2029c", "bom": "\ufeff"}})
    rec(cli, "credentials.rotated", "channel", "2", channel_id=2, now=at(71, 1),
        details={"password": "hunter2", "Token": "t-1", "nested": {"ACCESS_TOKEN": "a", "refresh_token": "r",
                                                                   "keep": "shown"},
                 "accounts": [{"client_secret": "c", "id": 1}, {"secret": {"deep": "x"}, "id": 2}],
                 "credentials": ["whole", "list"]})
    rec(cli, "user.updated", "user", None, now=at(72),
        details={"control": "bell\x07 nul\x00 tab\t cr\r lf\n", "quotes": "\"double\" 'single' \\back\\",
                 "html": "</script><b>&amp;</b>", "empty": "", "spaces": "  "})
    rec(None, "access.refused", "post", None, now=at(73, 999999),
        details={"attempted": "post.approve", "reason": "Nobody signed in."})
    rec(cli, "target.held", "target", "t-unknown", now=at(74), details=None)
    rec(cli, "post.edited", "post", 0, post_id=0, unit_id=0, channel_id=0, now=at(75),
        details={"int": 7, "str": "7", "negative": -42, "big": 2 ** 70, "float": 2.5, "tiny": 1e-07,
                 "zero": 0, "true": True, "false": False, "null": None, "empty_list": [], "empty_dict": {},
                 "tuple": (1, "two", None), "nested": {"b": [{"z": 1, "a": [2, {"y": None}]}], "a": {"c": {}}}})
    long_text = " ".join(["The A40 Western Avenue is closed eastbound between Hanger Lane and the Target "
                          "roundabout while officers deal with a collision; use the A4020 instead."] * 40)
    rec(cli, "post.created", "post", 12345678901234567890, post_id=None, now=at(300, 10),
        details={"body": long_text, "length": len(long_text), "keys with spaces": 1, "ünïcödé key": "v",
                 "": "empty key"})
    rec(SystemActor("worker:sample-1"), "post.occurrences_missed", "post", 3, post_id=3,
        now=datetime(2026, 3, 4, 0, 30, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        details={"missed": [f"2026-03-0{d}T08:00:00+00:00" for d in (1, 2)], "count": 2})
    rec(cli, "grant.approved", "grant", 99, channel_id=2, unit_id=2,
        now=datetime(2026, 4, 1, 10, 30, 0, 5, tzinfo=LONDON),
        details={"starts_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                 "in_london_summer": datetime(2026, 7, 1, 10, 0, 0, 250000, tzinfo=LONDON),
                 "in_st_johns": datetime(2026, 7, 1, 6, 30, tzinfo=ZoneInfo("America/St_Johns")),
                 "offset": datetime(2026, 1, 1, 0, 15, tzinfo=timezone(timedelta(hours=5, minutes=45))),
                 "day": date(2026, 3, 31)})


def main(out: Path) -> None:
    if out.exists():
        sys.exit(f"{out} exists: the sample stands for rows already written, and is never regenerated.")
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/sample.sqlite")
        upgrade(engine)
        clock.freeze()
        sessions = make_session_factory(engine)
        with sessions() as s:
            day_of_the_desk(s, sessions, clock, str(Path(tmp) / "media"))
            awkward_rows(s, clock)
            s.commit()
            assert audit_trail.verify(s).ok
            rows = [audit_trail.event_row(e) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        engine.dispose()
    # The file itself is plain ASCII (every other character \u-escaped), so that no editor, checkout or
    # Unicode normalisation can change a byte of what the rows say; json.load gives back the exact strings.
    out.write_text(json.dumps(rows, indent=1, ensure_ascii=True) + "\n", encoding="ascii")
    print(f"{len(rows)} rows, head {rows[-1]['hash']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
