"""The administration pages through the real forms, CSRF on: units, users, memberships, channels."""
from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timezone

from sqlalchemy import select

from desk.models import AuditEvent, Channel, Membership, Unit, User
from desk.services import admin as admin_service

from conftest import OPERATOR, login, post_form


def field_block(page: str, name: str) -> str:
    """The text of the field wrapper around the input called `name`, with its error messages."""
    for block in re.findall(r'<div class="field[^"]*">(.*?)</div>', page, re.S):
        if f'name="{name}"' in block:
            return html.unescape(block)
    raise AssertionError(f"no field {name} on the page")


def value_of(page: str, name: str) -> str | None:
    m = re.search(r'<input[^>]*name="%s"[^>]*>' % name, page)
    assert m, f"no input {name}"
    v = re.search(r'value="([^"]*)"', m.group(0))
    return html.unescape(v.group(1)) if v else None


def selected(page: str, name: str) -> str | None:
    m = re.search(r'<select[^>]*name="%s"[^>]*>(.*?)</select>' % name, page, re.S)
    assert m, f"no select {name}"
    opt = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', m.group(1))
    return (opt.group(1) or opt.group(2)) if opt else None


def events(app, action: str) -> list[AuditEvent]:
    with app.extensions["desk.sessions"]() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def fetch(app, model, **where):
    with app.extensions["desk.sessions"]() as s:
        return s.scalars(select(model).filter_by(**where)).one_or_none()


def test_admin_builds_a_unit_its_people_and_a_channel(app, client, web_world):
    login(client, "admin@desk.test")
    home = client.get("/admin/").get_data(as_text=True)
    assert "Administration" in home and "CO11" in home and "DPA" in home

    r = post_form(client, "/admin/units", {"code": "tsg", "name": "Territorial Support"})
    assert r.status_code == 302
    unit = fetch(app, Unit, code="TSG")
    assert unit.name == "Territorial Support"
    assert "Territorial Support" in client.get("/admin/units").get_data(as_text=True)

    r = post_form(client, "/admin/users/new", {"name": "Nia New", "email": "Nia@Desk.test",
                                               "password": "long enough pw", "is_auditor": "y",
                                               "line_manager": web_world.manager.id})
    assert r.status_code == 302
    nia = fetch(app, User, email="nia@desk.test")
    assert nia.line_manager_id == web_world.manager.id and nia.is_auditor and not nia.is_admin
    listing = client.get("/admin/users").get_data(as_text=True)
    row = re.search(r"<tr[^>]*>\s*<td>Nia New.*?</tr>", listing, re.S).group(0)
    assert "Mo Manager" in row and "auditor" in row

    r = post_form(client, "/admin/memberships", {"user": nia.id, "unit": unit.id, "role": "approver"})
    assert r.status_code == 302
    assert fetch(app, Membership, user_id=nia.id, unit_id=unit.id).role == "approver"
    assert "TSG: Approver" in client.get("/admin/users").get_data(as_text=True)

    # Summer (BST, UTC+1) to winter (GMT, UTC+0): both ends are local times converted to UTC.
    r = post_form(client, "/admin/channels/new", {"name": "TSG event feed", "unit": unit.id, "approvals_required": 2,
                                                  "live_from": "2026-07-01T10:00", "live_until": "2026-12-01 09:30"})
    assert r.status_code == 302, r.get_data(as_text=True)
    channel = fetch(app, Channel, name="TSG event feed")
    assert (channel.platform, channel.approvals_required, channel.unit_id) == ("training", 2, unit.id)
    assert channel.live_from == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert channel.live_until == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    listing = client.get("/admin/channels").get_data(as_text=True)
    assert "Wed 01 Jul 2026 10:00 BST" in listing and "Tue 01 Dec 2026 09:30 GMT" in listing

    # Every change went through the services, which audited it.
    assert events(app, "unit.created")[-1].actor == "admin@desk.test"
    created = json.loads(events(app, "user.created")[-1].details)
    assert created["line_manager"] == "manager@desk.test" and "password" not in created
    assert json.loads(events(app, "membership.added")[-1].details)["unit"] == "TSG"
    assert events(app, "channel.created")[-1].channel_id == channel.id


def test_refused_forms_keep_what_was_typed_and_say_why_next_to_the_field(app, client, web_world):
    login(client, "admin@desk.test")
    page = post_form(client, "/admin/users/new", {"name": "Pat Again", "email": "author@desk.test", "password": "short",
                                                  "line_manager": web_world.manager.id}).get_data(as_text=True)
    assert "A user with this e-mail already exists." in field_block(page, "email")
    assert "at least 10 characters" in field_block(page, "password")
    assert value_of(page, "name") == "Pat Again" and value_of(page, "email") == "author@desk.test"
    assert selected(page, "line_manager") == str(web_world.manager.id)
    assert not value_of(page, "password")  # a password is never sent back to the browser
    assert "Nothing was saved" in page

    page = post_form(client, "/admin/units", {"code": "co 11!", "name": "Public Order 2"}).get_data(as_text=True)
    assert "Use 1 to 32 letters, digits, '-' or '_'." in field_block(page, "code")
    assert value_of(page, "code") == "co 11!" and value_of(page, "name") == "Public Order 2"
    page = post_form(client, "/admin/units", {"code": "dpa", "name": "Again"}).get_data(as_text=True)
    assert "Already in use." in field_block(page, "code")

    typed = {"name": "Backwards", "unit": web_world.unit.id, "approvals_required": 1,
             "live_from": "2026-07-02T10:00", "live_until": "2026-07-01T10:00"}
    page = post_form(client, "/admin/channels/new", typed).get_data(as_text=True)
    assert "must end after it starts" in field_block(page, "live_until")
    assert value_of(page, "live_from") == "2026-07-02T10:00" and value_of(page, "live_until") == "2026-07-01T10:00"
    assert value_of(page, "name") == "Backwards" and selected(page, "unit") == str(web_world.unit.id)

    page = post_form(client, "/admin/channels/new", dict(typed, live_from="2026-03-29T01:30", live_until="",
                                                         approvals_required=6)).get_data(as_text=True)
    assert "does not exist in Europe/London" in field_block(page, "live_from")
    page = post_form(client, "/admin/channels/new", dict(typed, live_until="", approvals_required=6))
    page = page.get_data(as_text=True)
    assert "Between 1 and 5 approvals." in field_block(page, "approvals_required")
    assert fetch(app, Channel, name="Backwards") is None


def test_admin_edits_a_user_and_resets_their_password(app, client, web_world):
    login(client, "admin@desk.test")
    url = f"/admin/users/{web_world.author.id}"
    page = client.get(url).get_data(as_text=True)
    assert value_of(page, "name") == "Pat Press" and selected(page, "line_manager") == str(web_world.manager.id)
    assert f'value="{web_world.author.id}"' not in re.search(r'name="line_manager".*?</select>', page, re.S).group(0)

    r = post_form(client, url, {"name": "Pat Press-Officer", "active": "y", "line_manager": web_world.approver.id,
                                "password": "a brand new password"})
    assert r.status_code == 302
    pat = fetch(app, User, email="author@desk.test")
    assert pat.name == "Pat Press-Officer" and pat.line_manager_id == web_world.approver.id
    details = json.loads(events(app, "user.updated")[-1].details)
    assert "password" in details and "a brand new password" not in json.dumps(details)

    own = post_form(client, f"/admin/users/{web_world.admin.id}", {"name": "Ada Admin", "is_admin": "y"})
    page = own.get_data(as_text=True)
    assert "You cannot disable your own account." in page
    assert fetch(app, User, email="admin@desk.test").active

    r = post_form(client, url, {"name": "Pat Press-Officer", "line_manager": ""})  # unticked: disabled
    assert r.status_code == 302 and not fetch(app, User, email="author@desk.test").active
    other = app.test_client()
    assert "do not match" in login(other, "author@desk.test", "a brand new password").get_data(as_text=True)
    post_form(client, url, {"name": "Pat Press-Officer", "active": "y"})
    assert "Pat Press-Officer" in login(other, "author@desk.test", "a brand new password").get_data(as_text=True)


def test_admin_removes_a_membership_and_edits_a_channel(app, client, web_world):
    login(client, "admin@desk.test")
    m = fetch(app, Membership, user_id=web_world.approver2.id, unit_id=web_world.unit.id)
    r = post_form(client, f"/admin/memberships/{m.id}/remove", {}, page_url="/admin/memberships",
                  follow_redirects=True)
    assert "Kim Head-of-News is no longer approver in DPA." in r.get_data(as_text=True)
    assert fetch(app, Membership, id=m.id) is None and events(app, "membership.removed")

    url = f"/admin/channels/{web_world.channel.id}"
    page = client.get(url).get_data(as_text=True)
    assert selected(page, "status") == "active" and value_of(page, "live_from") == ""
    r = post_form(client, url, {"name": "DPA winter feed", "status": "dormant", "approvals_required": 2,
                                "live_from": "2026-01-10T08:00", "live_until": ""})
    assert r.status_code == 302
    c = fetch(app, Channel, id=web_world.channel.id)
    assert (c.name, c.status, c.approvals_required) == ("DPA winter feed", "dormant", 2)
    assert c.live_from == datetime(2026, 1, 10, 8, 0, tzinfo=UTC) and c.live_until is None
    assert value_of(client.get(url).get_data(as_text=True), "live_from") == "2026-01-10T08:00"
    r = post_form(client, url, {"name": "DPA winter feed", "status": "frozen", "approvals_required": 2,
                                "live_from": "2026-01-10T08:00"})
    assert "Unknown status." in field_block(r.get_data(as_text=True), "status")


def test_a_stored_window_in_the_repeated_hour_survives_an_unrelated_edit(app, client, web_world):
    # 01:30 on 25 Oct 2026 happens twice in London; the stored time is the first (BST) one.
    with app.extensions["desk.sessions"]() as s:
        admin_service.update_channel(s, OPERATOR, web_world.channel.id,
                                     live_from=datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    login(client, "admin@desk.test")
    url = f"/admin/channels/{web_world.channel.id}"
    assert value_of(client.get(url).get_data(as_text=True), "live_from") == "2026-10-25T01:30"
    r = post_form(client, url, {"name": "Renamed", "status": "active", "approvals_required": 1,
                                "live_from": "2026-10-25T01:30", "live_until": ""})
    assert r.status_code == 302
    c = fetch(app, Channel, id=web_world.channel.id)
    assert c.name == "Renamed" and c.live_from == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_channel_credentials_are_never_rendered(app, client, web_world):
    with app.extensions["desk.sessions"]() as s:
        s.get(Channel, web_world.channel.id).credentials = "gAAAA-very-secret-ciphertext"
        s.commit()
    login(client, "admin@desk.test")
    for url in ("/admin/channels", f"/admin/channels/{web_world.channel.id}"):
        assert "very-secret" not in client.get(url).get_data(as_text=True)


def test_someone_without_an_admin_role_is_refused_and_the_refusal_audited(app, client, web_world):
    login(client, "author@desk.test")
    assert ">Administration<" not in client.get("/dashboard").get_data(as_text=True)
    pages = ["/admin/", "/admin/units", "/admin/users", "/admin/users/new", f"/admin/users/{web_world.author.id}",
             "/admin/memberships", "/admin/channels", "/admin/channels/new", f"/admin/channels/{web_world.channel.id}"]
    for url in pages:
        r = client.get(url)
        assert r.status_code == 403, url
        assert "recorded in the audit trail" in r.get_data(as_text=True)
    forged = post_form(client, "/admin/units", {"code": "EVIL", "name": "Forged"}, page_url="/dashboard")
    assert forged.status_code == 403 and fetch(app, Unit, code="EVIL") is None
    refusals = events(app, "access.refused")
    assert len(refusals) == len(pages) + 1 and {e.actor for e in refusals} == {"author@desk.test"}
    assert [json.loads(e.details)["attempted"] for e in refusals] == [
        "admin.view", "unit.list", "user.list", "user.create", "user.update", "membership.list", "channel.list",
        "channel.create", "channel.update", "unit.create"]


def test_a_unit_admin_manages_their_own_unit_only(app, client, web_world):
    with app.extensions["desk.sessions"]() as s:
        admin_service.add_membership(s, OPERATOR, web_world.approver2.id, web_world.unit.id, "unit_admin")
    login(client, "approver2@desk.test")
    assert ">Administration<" in client.get("/dashboard").get_data(as_text=True)
    home = client.get("/admin/").get_data(as_text=True)
    assert "Your units" in home and "DPA" in home and "CO11" not in home
    assert ">Users<" not in home and ">Units<" not in home

    listing = client.get("/admin/channels").get_data(as_text=True)
    assert "DPA training feed" in listing and "CO11 event feed" not in listing
    r = post_form(client, f"/admin/channels/{web_world.channel.id}", {
        "name": "DPA feed (renamed by its unit)", "status": "active", "approvals_required": 1})
    assert r.status_code == 302
    assert fetch(app, Channel, id=web_world.channel.id).name == "DPA feed (renamed by its unit)"
    new = post_form(client, "/admin/channels/new", {"name": "DPA second feed", "unit": web_world.unit.id,
                                                    "approvals_required": 1})
    assert new.status_code == 302 and fetch(app, Channel, name="DPA second feed").unit_id == web_world.unit.id

    page = client.get("/admin/memberships").get_data(as_text=True)
    table = page[page.index("<table"):]
    assert "Pat Press" in table and "Olly Other" not in table  # CO11's roles: not this unit admin's business
    unit_options = re.search(r'name="unit".*?</select>', page, re.S).group(0)
    assert "DPA" in unit_options and "CO11" not in unit_options
    r = post_form(client, "/admin/memberships", {"user": web_world.outsider.id, "unit": web_world.unit.id,
                                                 "role": "author"})
    assert r.status_code == 302

    other = web_world.other_channel.id
    assert client.get(f"/admin/channels/{other}").status_code == 403
    forged = [
        post_form(client, f"/admin/channels/{other}", {"name": "Hijacked", "status": "active",
                                                       "approvals_required": 1}, page_url="/admin/channels"),
        post_form(client, "/admin/channels/new", {"name": "Sneaky", "unit": web_world.other_unit.id,
                                                  "approvals_required": 1}),
        post_form(client, "/admin/memberships", {"user": web_world.approver2.id, "unit": web_world.other_unit.id,
                                                 "role": "approver"}),
        post_form(client, "/admin/memberships/%d/remove" % fetch(app, Membership, user_id=web_world.outsider.id,
                                                                  unit_id=web_world.other_unit.id).id,
                  {}, page_url="/admin/memberships"),
    ]
    assert [r.status_code for r in forged] == [403, 403, 403, 403]
    attempted = [json.loads(e.details)["attempted"] for e in events(app, "access.refused")]
    assert attempted == ["channel.update", "channel.update", "channel.create", "membership.add", "membership.remove"]
    assert fetch(app, Channel, id=other).name == "CO11 event feed" and fetch(app, Channel, name="Sneaky") is None
    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/users/{web_world.author.id}").status_code == 403


def test_unknown_objects_are_404(client, web_world):
    login(client, "admin@desk.test")
    assert client.get("/admin/channels/999").status_code == 404
    assert client.get("/admin/users/999").status_code == 404
