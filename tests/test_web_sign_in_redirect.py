"""Where the desk sends a person after signing in: only to a path on the desk itself, judged after the
browser's own clean-up of the address (tabs and newlines dropped, backslashes read as slashes)."""
import pytest
from test_web_two_factor import next_code, set_up

from desk.web.redirects import local_path

from conftest import PASSWORD, csrf_from, post_form

FOREIGN = [
    "//evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "\n//evil.example/",
    " //evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "\\/evil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "evil.example",
    "",
    None,
    "/\x00/evil.example",
    "/\x7f",
]


@pytest.mark.parametrize("target", FOREIGN)
def test_anything_that_is_not_a_path_on_the_desk_is_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target, path", [
    ("/posts/12", "/posts/12"),
    ("/posts/?state=draft&page=2", "/posts/?state=draft&page=2"),
    ("/approvals/#queue", "/approvals/#queue"),
    ("/posts/\t12", "/posts/12"),  # what the browser itself would ask for
    # Percent-encoded, a slash or a tab is part of the path: the browser asks the desk for it.
    ("/posts/%2F%2Fevil.example", "/posts/%2F%2Fevil.example"),
    ("/%09/evil.example/", "/%09/evil.example/"),
    (" /posts/12\n", "/posts/12"),
    ("/posts\\12", "/posts/12"),
])
def test_a_path_on_the_desk_is_kept_as_the_browser_would_read_it(target, path):
    assert local_path(target) == path


def _sign_in(client, email, next_param):
    page = client.get("/login", query_string={"next": next_param})
    return client.post("/login", query_string={"next": next_param},
                       data={"email": email, "password": PASSWORD,
                             "csrf_token": csrf_from(page.get_data(as_text=True))})


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\\evil.example/", "\r\n//evil.example/",
                                    "/\r\nSet-Cookie: x=1"])
def test_sign_in_never_sends_a_person_off_the_desk(client, web_world, target):
    resp = _sign_in(client, web_world.author.email, target)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    location = resp.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location
    assert "\r" not in location and "\n" not in location
    assert all(not c.startswith("x=") for c in resp.headers.getlist("Set-Cookie"))


def test_the_address_from_the_review_signs_in_and_stays_on_the_desk(client, web_world):
    page = client.get("/login?next=/%09/evil.example/")
    resp = client.post("/login?next=/%09/evil.example/", data={
        "email": web_world.author.email, "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 302 and resp.headers["Location"] == "/dashboard"


def test_sign_in_goes_on_to_the_page_asked_for(client, web_world):
    resp = _sign_in(client, web_world.author.email, "/posts/?state=draft")
    assert resp.status_code == 302 and resp.headers["Location"] == "/posts/?state=draft"


def test_the_code_step_uses_the_same_check(app, client, web_world):
    _sign_in(client, web_world.author.email, "/dashboard")
    secret, _codes = set_up(client)
    post_form(client, "/logout", {}, page_url="/dashboard")
    first = _sign_in(client, web_world.author.email, "/\t/evil.example/")
    assert first.headers["Location"] == "/login/code"
    done = post_form(client, "/login/code", {"code": next_code(secret)})
    assert done.status_code == 302 and done.headers["Location"] == "/dashboard"
