"""Security headers on every answer the desk gives: every route of the URL map, signed in and not, pages,
errors, redirects, JSON and static files alike; and no page carries a script or style the policy would block."""
import re

import pytest
from werkzeug.routing import IntegerConverter

from desk import create_app
from desk.services import media, posts
from desk.services.posts import PostInput, TargetInput

import media_samples
from conftest import login

# What a browser must not run or load, whichever page it is on.
CSP_MUST = ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def _urls(app) -> list[tuple[str, str]]:
    """One (method, URL) per route and method, with 1 for a number and a plausible word for a name."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            values = {}
            for name in rule.arguments:
                if isinstance(rule._converters[name], IntegerConverter):
                    values[name] = 1
                else:
                    values[name] = {"filename": "desk.css", "platform": "x"}.get(name, "x")
            url = app.url_for(rule.endpoint, **values)
            found += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def _check_headers(resp, where: str) -> str:
    csp = resp.headers.get("Content-Security-Policy", "")
    for part in CSP_MUST:
        assert part in csp, f"{where}: {part!r} missing from {csp!r}"
    script = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, where
    style = next(p for p in csp.split(";") if p.strip().startswith("style-src"))
    assert "'unsafe-inline'" not in style, where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("X-Frame-Options") == "DENY", where
    assert resp.headers.get("Referrer-Policy") == "same-origin", where
    return csp


def _check_page(resp, csp: str, where: str) -> None:
    """A page runs only scripts from the desk's files or with this answer's nonce, and no inline handler."""
    if not resp.mimetype == "text/html":
        return
    html = resp.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", csp)
    for tag in re.findall(r"<script\b[^>]*>", html, re.IGNORECASE):
        assert "src=" in tag or (nonce and f'nonce="{nonce.group(1)}"' in tag), f"{where}: inline {tag}"
    assert not INLINE_HANDLER.search(html), f"{where}: {INLINE_HANDLER.search(html).group(0)}"
    assert not INLINE_STYLE.search(html), f"{where}: {INLINE_STYLE.search(html).group(0)}"


def _sweep(app, client) -> int:
    checked = 0
    for method, url in _urls(app):
        resp = client.open(url, method=method)
        where = f"{method} {url} ({resp.status_code})"
        assert resp.status_code < 500, where
        _check_page(resp, _check_headers(resp, where), where)
        checked += 1
    return checked


def test_every_route_answers_with_the_headers_signed_out(app, client, web_world):
    assert _sweep(app, client) > 80


def test_every_route_answers_with_the_headers_signed_in(app, client, web_world):
    draft = posts.save_draft(web_world.session, web_world.author, PostInput(
        "Road closed on the A40", None, [TargetInput(web_world.channel.id)])).post
    assert draft.id == 1  # so that the sweep's /posts/1 is a real page
    picture = media.store_upload(web_world.session, web_world.author, web_world.unit.id, "road.png",
                                 media_samples.png(), app.config["DESK_SETTINGS"].media_dir)
    assert picture.id == 1  # and /media/1/thumbnail a real picture, shown in the library
    login(client, web_world.author.email)
    _sweep(app, client)
    admin = app.test_client()  # the administration pages, signed in as someone who may see them
    login(admin, web_world.admin.email)
    _sweep(app, admin)


def test_errors_and_static_files_carry_them_too(client, web_world):
    for resp in (client.get("/no/such/page"), client.get("/static/desk.css"), client.get("/api/v1/me"),
                 client.post("/login", data={})):
        _check_headers(resp, resp.request.path)


@pytest.fixture
def production(sqlite_engine, tmp_path):
    return create_app({"DESK_ENGINE": sqlite_engine, "TWO_FACTOR_ENFORCED": False,
                       "ENV": {"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 40,
                               "DESK_MEDIA_DIR": str(tmp_path / "media")}})


def test_production_tells_browsers_to_keep_to_https(production):
    client = production.test_client()
    hsts = client.get("/login", base_url="https://desk.example").headers.get("Strict-Transport-Security", "")
    assert "max-age=31556926" in hsts and "includeSubDomains" in hsts
    behind_proxy = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "max-age" in behind_proxy.headers.get("Strict-Transport-Security", "")
    assert behind_proxy.status_code == 200


def test_development_sends_no_hsts_and_keeps_plain_http_cookies(app, client, web_world):
    assert "Strict-Transport-Security" not in client.get("/login", base_url="https://desk.example").headers
    assert not app.config["SESSION_COOKIE_SECURE"]
    page = login(client, web_world.author.email)
    assert "Pat Press" in page.get_data(as_text=True)  # the cookie came back over plain http
    assert not app.config["SESSION_COOKIE_SECURE"]


def test_a_page_script_gets_the_answers_nonce(app, client, web_world):
    """For the rare script that must sit in a page: `csp_nonce()` in a template gives this answer's nonce."""
    with app.test_request_context("/"):
        app.preprocess_request()
        nonce = app.jinja_env.from_string("{{ csp_nonce() }}").render()
        resp = app.process_response(app.make_response("ok"))
    assert len(nonce) >= 16 and f"'nonce-{nonce}'" in resp.headers["Content-Security-Policy"]
