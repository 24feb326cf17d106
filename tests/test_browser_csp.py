"""The Content-Security-Policy in real headless Chromium (Debian's, driven by Playwright): the desk's own
scripts still work under it, no page of a walk through the desk trips it, and it does stop an inline script."""
from __future__ import annotations

import pytest
from test_browser import browser, live_server, sign_in  # noqa: F401 (fixtures, on this module's app)

pytestmark = pytest.mark.browser

# Runs before any page script, outside the page's CSP (Playwright adds it through the DevTools protocol).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def page(browser):  # noqa: F811
    page = browser.new_page()
    page.set_default_timeout(15000)
    page.add_init_script(WATCH)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.csp_errors = errors
    return page


def violations(page) -> list[str]:
    return page.evaluate("window.__violations") + page.csp_errors


def test_the_desks_scripts_work_under_the_policy(live_server, page, web_world):  # noqa: F811
    base = live_server
    sign_in(page, base, web_world.author.email)
    page.goto(f"{base}/posts/new")
    page.check(f"input[name=channels][value='{web_world.channel.id}']")
    page.fill("textarea[name=body]", "Write to jo@example.com about the road closure")
    # screening.js asks the desk after a pause and lists the finding under the text
    page.wait_for_selector(".live-findings:has-text('E-mail address')")
    for path in ("/dashboard", "/posts/", "/approvals/", "/channels/", "/media", "/grants/",
                 "/account/two-factor", "/templates/"):
        page.goto(f"{base}{path}")
    assert violations(page) == []


def test_an_inline_script_is_refused(live_server, page, web_world):  # noqa: F811
    page.goto(f"{live_server}/login")
    page.evaluate("""() => { const s = document.createElement("script");
                             s.textContent = "window.__ran = true"; document.body.appendChild(s); }""")
    # Polled from here: a wait_for_function predicate is itself eval'd in the page, which the policy forbids.
    for _ in range(50):
        if page.evaluate("window.__violations.length"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__ran === undefined")
    assert violations(page)[:1] == ["script-src-elem inline"]
