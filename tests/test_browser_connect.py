"""Connecting a real channel in real headless Chromium (Debian's, driven by Playwright; no browser is
downloaded): an administrator connects an X account through the fake X's consent page, an author posts to
it, an approver approves, the worker publishes, and the fake X received exactly that one post."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from test_browser import browser, live_server, sign_in, sign_out  # noqa: F401 (fixtures, on this module's app)
from test_web_connect import app, fake_x  # noqa: F401 (the desk with X pointing at the fake X)

from desk.models import Channel
from desk.platforms import PlatformContext
from desk.worker import run_pass

pytestmark = pytest.mark.browser
TEXT = "The A40 Western Avenue has reopened in both directions. Thank you for your patience."


def test_administrator_connects_x_then_a_post_goes_out_on_it(app, live_server, browser, web_world, fake_x,  # noqa: F811
                                                             tmp_path):
    base, w = live_server, web_world
    page = browser.new_page()
    page.set_default_timeout(15000)

    sign_in(page, base, w.admin.email)
    page.goto(f"{base}/channels/")
    page.select_option("select[name=x-unit]", str(w.unit.id))
    page.click("button:has-text('Connect X')")  # to X's consent page, which sends the browser straight back
    page.wait_for_selector("text=Connected Met Police Events (@MetPoliceEvents) as a channel of DPA")
    page.wait_for_selector("code.remote-id:has-text('1500000000000000001')")
    assert fake_x.server.received("GET", "/oauth/authorize"), "the browser did not visit X's consent page"
    page.screenshot(path=str(tmp_path / "1-connected.png"))
    with app.extensions["desk.sessions"]() as s:
        channel_id = s.scalar(select(Channel.id).where(Channel.platform == "x"))
    assert page.url == f"{base}/channels/{channel_id}"
    sign_out(page)

    sign_in(page, base, w.author.email)
    page.goto(f"{base}/posts/new")
    page.fill("textarea[name=body]", TEXT)
    page.check(f"input[name=channels][value='{channel_id}']")
    page.check("input[name=asap]")
    page.click("button[name=action][value=submit]")
    page.wait_for_selector("text=Awaiting approval")
    post_url = page.url
    sign_out(page)

    sign_in(page, base, w.approver.email)
    page.goto(f"{base}/approvals/")
    page.click("text=The A40 Western Avenue has reopened")
    page.click("button:has-text('Approve')")
    page.wait_for_selector("text=Approved")

    settings = app.config["DESK_SETTINGS"]
    sessions = app.extensions["desk.sessions"]
    run_pass(sessions, PlatformContext(settings, sessions), "browser-test:1", settings)

    [sent] = fake_x.server.received("POST", "/2/tweets")
    assert sent.json == {"text": TEXT}
    [tweet] = fake_x.live_tweets()
    assert tweet["text"] == TEXT
    page.goto(post_url)
    page.wait_for_selector("text=Published")
    link = page.locator(f"a[href='https://x.com/MetPoliceEvents/status/{tweet['id']}']")
    assert link.count() == 1 and "See it on X" in link.inner_text()
    page.screenshot(path=str(tmp_path / "2-published.png"))
