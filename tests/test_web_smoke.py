"""Signing in and out through the real forms, CSRF on."""
from conftest import login, post_form


def test_sign_in_and_out(client, web_world):
    page = client.get("/dashboard")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    bad = login(client, "author@desk.test", "wrong password!")
    assert "do not match" in bad.get_data(as_text=True)
    ok = login(client, "author@desk.test")
    assert ok.status_code == 200 and "Pat Press" in ok.get_data(as_text=True)
    out = post_form(client, "/logout", {}, page_url="/dashboard", follow_redirects=True)
    assert "signed out" in out.get_data(as_text=True)


def test_form_without_csrf_is_refused(client, web_world):
    resp = client.post("/login", data={"email": "author@desk.test", "password": "correct horse battery"})
    assert resp.status_code == 400
