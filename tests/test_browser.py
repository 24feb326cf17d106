"""One whole flow in real headless Chromium (Debian's, driven by Playwright; no browser is downloaded):
an author submits a post, an approver approves it, the worker publishes it to the training channel."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from conftest import PASSWORD

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("DESK_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (Debian's 'chromium' package; make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


@pytest.fixture
def live_server(app, web_world):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def sign_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")


def sign_out(page):
    page.click("form.signout button")


def test_author_submits_approver_approves_worker_publishes(app, live_server, browser, web_world, tmp_path):
    from desk.platforms import PlatformContext
    from desk.worker import run_pass

    base = live_server
    page = browser.new_page()
    page.set_default_timeout(15000)

    sign_in(page, base, web_world.author.email)
    page.goto(f"{base}/posts/new")
    page.fill("textarea[name=body]", "The A40 Western Avenue is closed eastbound after a collision. Use the A406.")
    page.check(f"input[name=channels][value='{web_world.channel.id}']")
    page.check("input[name=asap]")
    page.click("button[name=action][value=submit]")
    page.wait_for_selector("text=Awaiting approval")
    post_url = page.url
    page.screenshot(path=str(tmp_path / "1-submitted.png"))
    sign_out(page)

    sign_in(page, base, web_world.approver.email)
    page.goto(f"{base}/approvals/")
    page.click("text=The A40 Western Avenue")
    page.click("button:has-text('Approve')")
    page.wait_for_selector("text=Approved")
    page.screenshot(path=str(tmp_path / "2-approved.png"))

    settings = app.config["DESK_SETTINGS"]
    sessions = app.extensions["desk.sessions"]
    run_pass(sessions, PlatformContext(settings, sessions), "browser-test:1", settings)

    page.goto(post_url)
    page.wait_for_selector("text=Published")
    page.click(f"a[href^='/training/{web_world.channel.id}']")
    page.wait_for_selector("text=The A40 Western Avenue is closed eastbound")
    page.screenshot(path=str(tmp_path / "3-published.png"))
