"""Signing in and out through the real forms, CSRF on."""
from sqlalchemy import select

from desk.models import AuditEvent

from conftest import login, post_form


def test_sign_in_and_out(app, client, web_world):
    page = client.get("/dashboard")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    bad = login(client, "author@desk.test", "Tr0ub4dor&3-typo")
    assert "do not match" in bad.get_data(as_text=True)
    ok = login(client, "author@desk.test")
    assert ok.status_code == 200 and "Pat Press" in ok.get_data(as_text=True)
    out = post_form(client, "/logout", {}, page_url="/dashboard", follow_redirects=True)
    assert "signed out" in out.get_data(as_text=True)
    with app.extensions["desk.sessions"]() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action.like("auth.%"))
                                               .order_by(AuditEvent.seq))]
        failed = s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed")).one()
    assert actions == ["auth.sign_in_failed", "auth.sign_in", "auth.session_started", "auth.sign_out"]
    assert "Tr0ub4dor" not in failed.details  # the typed password never reaches the trail
    assert '"reason":"wrong password"' in failed.details


def test_form_without_csrf_is_refused(client, web_world):
    resp = client.post("/login", data={"email": "author@desk.test", "password": "correct horse battery"})
    assert resp.status_code == 400
    assert "nothing was changed" in resp.get_data(as_text=True)
