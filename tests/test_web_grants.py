"""The access pages and API through the real forms and tokens, CSRF on: ask, decide, revoke, every grant
and its CSV, a unit's policy, the dashboards' notices, and event feeds on the channels list and forms."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_grants import CASE, GrantWorld
from test_openapi import Contract

from desk.domain.clock import utcnow
from desk.domain.timezones import utc_to_local
from desk.models import AccessGrant, AuditEvent, Channel, Unit
from desk.services import accounts, admin, event_feeds, grants, posts
from desk.services.posts import PostInput, TargetInput

from conftest import OPERATOR, login, post_form


@pytest.fixture
def gw(web_world):
    return GrantWorld(web_world)


@pytest.fixture
def as_(app, web_world):
    """A signed-in browser per persona."""
    def _as(email):
        client = app.test_client()
        login(client, email)
        return client
    return _as


def raw(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def text(response) -> str:
    """What a person reads: the page without its tags, its spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", raw(response)).split())


def listed(response) -> str:
    """The words of the page's table only (not its filter's choices)."""
    page = raw(response)
    return " ".join(re.sub(r"<[^>]+>", " ", page[page.find("<table"):]).split()) if "<table" in page else ""


def fetch(app, model, object_id):
    with app.extensions["desk.sessions"]() as s:
        return s.get(model, object_id)


def audited(app, action) -> int:
    with app.extensions["desk.sessions"]() as s:
        return len(s.scalars(select(AuditEvent.id).where(AuditEvent.action == action)).all())


def test_asking_for_access_then_the_line_manager_approving_it(app, gw, as_):
    author = as_("author@desk.test")
    page = text(author.get("/grants/"))
    assert "Ask for access" in page and "TSG · TSG feed" in page
    r = post_form(author, "/grants/", {"channel": gw.channel.id, "role": "author", "business_case": "need it"})
    page = text(r)
    assert r.status_code == 200 and "Nothing was saved" in page and "at least 20 characters" in page
    assert "need it</textarea>" in raw(r)  # what was typed is kept
    r = post_form(author, "/grants/", {"channel": gw.channel.id, "role": "author", "business_case": CASE},
                  follow_redirects=True)
    assert "was sent to Mo Manager" in text(r) and "Waiting for a decision" in text(r)
    assert "TSG feed" not in text(author.get("/posts/new"))

    manager = as_("manager@desk.test")
    assert "1 request for access waiting for your decision" in text(manager.get("/dashboard"))
    team = manager.get("/grants/team")
    assert "Pat Press asks to draft for TSG feed" in text(team) and CASE in text(team)
    grant_id = int(re.search(r'/grants/(\d+)/decide', raw(team)).group(1))
    r = post_form(manager, f"/grants/{grant_id}/decide", {"comment": "", "approve": "Approve"},
                  page_url="/grants/team", follow_redirects=True)
    assert "Pat Press may now draft for TSG feed until" in text(r)
    assert "TSG feed" in text(author.get("/posts/new"))
    assert "Live" in text(author.get("/grants/"))
    assert audited(app, "grant.approved") == 1


def test_refusing_without_a_comment_is_sent_back_and_strangers_are_refused(app, gw, as_):
    asked = gw.ask(gw.w.author, now=utcnow())
    manager = as_("manager@desk.test")
    r = post_form(manager, f"/grants/{asked.id}/decide", {"comment": "", "refuse": "Refuse"}, page_url="/grants/team")
    assert r.status_code == 400 and "Say why it is refused." in text(r)
    stranger = as_("approver@desk.test")
    r = post_form(stranger, f"/grants/{asked.id}/decide", {"comment": "ok", "approve": "Approve"},
                  page_url="/grants/")
    assert r.status_code == 403 and audited(app, "access.refused") == 1
    author = as_("author@desk.test")
    r = post_form(author, f"/grants/{asked.id}/decide", {"comment": "ok", "approve": "Approve"}, page_url="/grants/")
    assert r.status_code == 403 and "Nobody decides their own request" in text(r)
    assert fetch(app, AccessGrant, asked.id).status == "pending"


def test_a_manager_revokes_a_grant_at_once(app, gw, as_):
    grant = gw.granted(gw.w.author, now=utcnow() - timedelta(days=1))
    manager = as_("manager@desk.test")
    r = post_form(manager, f"/grants/{grant.id}/revoke", {"reason": "Moved to another team."},
                  page_url="/grants/team", follow_redirects=True)
    assert "Pat Press's access to TSG feed ended now." in text(r)
    assert fetch(app, AccessGrant, grant.id).status == "revoked"
    assert "TSG feed" not in text(as_("author@desk.test").get("/posts/new"))


def test_a_grant_holder_sees_the_posts_of_the_granted_channel_and_no_other(app, gw, as_):
    s, w, now = gw.session, gw.w, utcnow()
    second = admin.create_channel(s, OPERATOR, gw.unit.id, "training", "TSG second feed")
    gw.granted(w.author, now=now - timedelta(days=1))
    asked = grants.request(s, w.author, second.id, "author", CASE, now=now - timedelta(days=1))
    grants.decide(s, w.manager, asked.id, True, "Agreed.", now=now - timedelta(days=1))
    to_feed = posts.save_draft(s, w.author, PostInput(body="Kestrel Road reopens at noon.",
                                                       targets=[TargetInput(gw.channel.id)]), now=now).post
    to_second = posts.save_draft(s, w.author, PostInput(body="Heron Lane stays shut all week.",
                                                         targets=[TargetInput(second.id)]), now=now).post
    gw.granted(w.outsider, "approver", now=now - timedelta(days=1))  # Olly: a role in CO11 only, and this grant

    olly = as_("outsider@desk.test")
    assert olly.get(f"/posts/{to_feed.id}").status_code == 200
    assert olly.get(f"/posts/{to_second.id}").status_code == 403
    listing = text(olly.get("/posts/"))
    assert "Kestrel Road reopens" in listing and "Heron Lane" not in listing


def test_every_grant_filtered_by_day_and_exported(app, gw, as_):
    now = utcnow()
    gw.granted(gw.w.author, now=now - timedelta(days=3), period_days=30)
    gw.ask(gw.w.outsider, now=now)
    admin_browser = as_("admin@desk.test")
    page = admin_browser.get("/grants/all")
    assert "2 grants" in text(page) and "Pat Press" in listed(page) and "Olly Other" in listed(page)
    today = utc_to_local(now, app.config["DESK_SETTINGS"].zone).date()
    page = admin_browser.get(f"/grants/all?on={today:%Y-%m-%d}")
    assert "1 grant matching" in text(page) and "Pat Press" in listed(page) and "Olly Other" not in listed(page)
    long_ago = today - timedelta(days=10)
    assert "0 grants matching" in text(admin_browser.get(f"/grants/all?on={long_ago:%Y-%m-%d}"))
    assert admin_browser.get("/grants/all?on=not-a-date").status_code == 400

    r = as_("auditor@desk.test").get(f"/grants/all.csv?on={today:%Y-%m-%d}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert re.fullmatch(r"attachment; filename=grants-\d{8}\.csv", r.headers["Content-Disposition"])
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [(row["email"], row["channel"], row["state"]) for row in rows] == [("author@desk.test", "TSG feed", "live")]
    assert audited(app, "grants.exported") == 1
    author = as_("author@desk.test")
    assert author.get("/grants/all").status_code == 403 and author.get("/grants/all.csv").status_code == 403


def test_a_desk_administrator_sets_a_units_policy(app, gw, as_):
    assert as_("author@desk.test").get(f"/grants/units/{gw.unit.id}/policy").status_code == 403
    admin_browser = as_("admin@desk.test")
    assert "by grant only, 182 days" in text(admin_browser.get("/admin/units"))
    r = post_form(admin_browser, f"/grants/units/{gw.unit.id}/policy",
                  {"grant_period_days": "90", "roles_grant_access": "y"}, follow_redirects=True)
    assert "Saved TSG's access policy." in text(r)
    unit = fetch(app, Unit, gw.unit.id)
    assert unit.grant_period_days == 90 and unit.roles_grant_access
    r = post_form(admin_browser, f"/grants/units/{gw.unit.id}/policy", {"grant_period_days": "0"})
    assert r.status_code == 200 and "1 to 3660 days." in text(r)


def test_dashboards_warn_the_holder_and_their_manager(app, gw, as_):
    now = utcnow()
    grant = gw.granted(gw.w.author, now=now - timedelta(days=20), period_days=30)
    with app.extensions["desk.sessions"]() as s:
        assert grants.expire_and_warn(s, now) == (0, 1)
    page = text(as_("author@desk.test").get("/dashboard"))
    assert "Your drafting access to TSG feed ends" in page and "Ask to renew it" in page
    assert f"channel={grant.channel_id}" in raw(as_("author@desk.test").get("/dashboard"))
    assert "Pat Press's drafting access to TSG feed" in text(as_("manager@desk.test").get("/dashboard"))
    assert "Access ending soon" not in text(as_("approver@desk.test").get("/dashboard"))


# ---- event feeds on the pages --------------------------------------------------------------------

def test_feeds_show_live_or_dormant_and_the_unit_is_reminded(app, web_world, as_):
    now, s = utcnow(), web_world.session
    live = admin.update_channel(s, OPERATOR, web_world.other_channel.id, is_event_feed=True,
                                operation_name="Operation Meadow", live_from=now - timedelta(hours=3),
                                live_until=now + timedelta(hours=1))
    over = admin.create_channel(s, OPERATOR, web_world.other_unit.id, "training", "CO11 march feed",
                                is_event_feed=True, operation_name="Operation Lantern",
                                live_from=now - timedelta(days=2), live_until=now - timedelta(hours=1))
    assert event_feeds.close_ended_feeds(s, now) == (2, 1)
    page = text(as_("outsider@desk.test").get("/channels/"))
    assert "Event feed of Operation Meadow: Live now" in page and "Event feed of Operation Lantern: Dormant" in page
    dashboard = text(as_("outsider@desk.test").get("/dashboard"))
    assert "Operation Meadow ends" in dashboard and "post a closing message" in dashboard
    assert "Operation Lantern has ended" in dashboard
    assert "Operation Meadow" not in text(as_("author@desk.test").get("/dashboard"))
    assert fetch(app, Channel, over.id).status == "dormant" and fetch(app, Channel, live.id).status == "active"


def test_the_admin_marks_a_channel_as_an_event_feed(app, web_world, as_):
    admin_browser = as_("admin@desk.test")
    url = f"/admin/channels/{web_world.other_channel.id}"
    r = post_form(admin_browser, url, {"name": "CO11 event feed", "status": "active", "approvals_required": "1",
                                       "is_event_feed": "y", "operation_name": ""})
    assert r.status_code == 200 and "Name the operation this feed is for" in text(r)
    r = post_form(admin_browser, url, {"name": "CO11 event feed", "status": "active", "approvals_required": "1",
                                       "is_event_feed": "y", "operation_name": "Operation Meadow",
                                       "live_from": "2031-06-01T10:00", "live_until": "2031-06-03T18:00"})
    assert r.status_code == 302
    channel = fetch(app, Channel, web_world.other_channel.id)
    assert channel.is_event_feed and channel.operation_name == "Operation Meadow"
    page = text(as_("outsider@desk.test").get("/channels/"))
    assert "Event feed of Operation Meadow: Not live yet" in page


def test_a_post_for_a_feed_not_live_yet_says_when_it_goes_live(app, web_world, as_):
    later = utcnow() + timedelta(days=2)
    admin.update_channel(web_world.session, OPERATOR, web_world.other_channel.id, is_event_feed=True,
                         operation_name="Operation Meadow", live_from=later, live_until=later + timedelta(days=1))
    r = post_form(as_("outsider@desk.test"), "/posts/new", {
        "body": "The camp opens on Saturday.", "link": "", "channels": [web_world.other_channel.id],
        "scheduled_at": "", "asap": "y", "action": "submit"})
    page = text(r)
    assert r.status_code == 200 and "CO11 event feed is the event feed of Operation Meadow: it goes live at" in page
    assert "Saved as a draft" in page


# ---- the API ------------------------------------------------------------------------------------

def test_the_grant_api_fits_its_description(app, gw):
    contract, client = Contract(), app.test_client()
    tokens = {who: accounts.create_token(gw.session, OPERATOR, getattr(gw.w, who))
              for who in ("author", "manager", "admin", "auditor", "approver")}

    def call(method, path, template, who, json=None, status=200):
        if json is not None and status < 400:
            contract.check_request(template, method, json)
        r = client.open("/api/v1" + path, method=method, json=json, headers={"Authorization": f"Bearer {tokens[who]}"})
        assert r.status_code == status, r.get_data(as_text=True)
        return contract.check_response(template, method, r)

    call("POST", "/grants", "/grants", "author", {"channel_id": gw.channel.id, "role": "author",
                                                  "business_case": "short"}, status=400)
    asked = call("POST", "/grants", "/grants", "author", {"channel_id": gw.channel.id, "role": "author",
                                                          "business_case": CASE, "period_days": 30}, status=201)
    assert asked["state"] == "pending" and asked["person"]["email"] == "author@desk.test"
    assert [g["id"] for g in call("GET", "/grants?scope=to_decide", "/grants", "manager")["grants"]] == [asked["id"]]
    decide = "/grants/{grant_id}/decide"
    call("POST", f"/grants/{asked['id']}/decide", decide, "author", {"decision": "approve"}, status=403)
    call("POST", f"/grants/{asked['id']}/decide", decide, "manager", {"decision": "maybe"}, status=400)
    done = call("POST", f"/grants/{asked['id']}/decide", decide, "manager", {"decision": "approve", "comment": "Yes."})
    assert done["state"] == "live" and done["decider"]["email"] == "manager@desk.test"
    call("POST", f"/grants/{asked['id']}/decide", decide, "manager", {"decision": "approve"}, status=409)
    channels = client.get("/api/v1/channels", headers={"Authorization": f"Bearer {tokens['author']}"}).get_json()
    assert any(c["id"] == gw.channel.id and c["may_draft"] for c in channels["channels"])
    call("GET", "/grants?scope=all", "/grants", "author", status=403)
    now = utcnow()
    day = f"&since={(now - timedelta(hours=1)).isoformat()}&until={now.isoformat()}".replace("+", "%2B")
    every = call("GET", f"/grants?scope=all&channel_id={gw.channel.id}{day}", "/grants", "auditor")
    assert every["total"] == 1 and every["grants"][0]["id"] == asked["id"]
    call("GET", "/grants?scope=all&since=2026-01-01T00:00:00Z", "/grants", "admin", status=400)
    revoke = "/grants/{grant_id}/revoke"
    call("POST", f"/grants/{asked['id']}/revoke", revoke, "approver", {"reason": "No."}, status=403)
    gone = call("POST", f"/grants/{asked['id']}/revoke", revoke, "manager", {"reason": "Left the team."})
    assert gone["state"] == "revoked" and gone["revoke_reason"] == "Left the team."
    call("POST", "/grants/99999/revoke", revoke, "manager", {"reason": "Left."}, status=404)
    mine = call("GET", "/grants", "/grants", "author")
    assert [g["state"] for g in mine["grants"]] == ["revoked"]
