"""The channels list and the training channel's own page, through Flask's test client."""
from __future__ import annotations

from datetime import UTC, datetime, timezone

from test_web_posts import approve_via_web, as_user, load_post, publish_due, sessions_of, submitted_post, text_of

from desk.services import admin

from conftest import OPERATOR, post_form


def test_channels_of_my_units_and_all_for_administrators_and_auditors(app, web_world):
    w = web_world
    with sessions_of(app)() as s:
        admin.create_channel(s, OPERATOR, w.other_unit.id, "training", "CO11 camp updates", approvals_required=2,
                             live_from=datetime(2030, 7, 1, 8, 0, tzinfo=UTC),
                             live_until=datetime(2030, 7, 3, 18, 0, tzinfo=UTC))
        admin.update_channel(s, OPERATOR, w.channel2.id, status="dormant")
    mine = text_of(as_user(app, w.author.email).get("/channels/"))
    assert "DPA training feed" in mine and "DPA two-key feed" in mine and "CO11" not in mine
    assert "Dormant" in mine and "always live" in mine
    outsider = text_of(as_user(app, w.outsider.email).get("/channels/"))
    assert "CO11 camp updates" in outsider and "DPA training feed" not in outsider
    assert "Mon 01 Jul 2030 09:00 BST – Wed 03 Jul 2030 19:00 BST" in outsider
    for who in (w.admin, w.auditor):
        everything = text_of(as_user(app, who.email).get("/channels/"))
        assert "DPA training feed" in everything and "CO11 camp updates" in everything
    assert f'href="/training/{w.channel.id}"' in mine
    assert "You have no role in any unit" in text_of(as_user(app, w.manager.email).get("/channels/"))


def test_training_feed_shows_what_went_out_newest_first_and_struck_through_when_retracted(app, web_world):
    w = web_world
    author, approver = as_user(app, w.author.email), as_user(app, w.approver.email)
    first = submitted_post(app, author, [w.channel], body="First: the A40 is closed.", asap=True, when="",
                           link="https://example.police.uk/a40")
    approve_via_web(approver, first)
    publish_due(app)
    second = submitted_post(app, author, [w.channel], body="Second: the A40 has reopened.", asap=True, when="")
    approve_via_web(approver, second)
    publish_due(app)
    remote_first = load_post(app, first).targets[0].remote_id
    remote_second = load_post(app, second).targets[0].remote_id

    feed = text_of(author.get(f"/training/{w.channel.id}"))
    assert f'id="{remote_first}"' in feed and f'id="{remote_second}"' in feed
    assert remote_first.startswith("trn_")
    assert feed.index("Second: the A40 has reopened.") < feed.index("First: the A40 is closed.")
    assert 'href="https://example.police.uk/a40"' in feed
    assert "<del" not in feed

    post_form(approver, f"/posts/{first}/retract", {"reason": "Superseded."}, page_url=f"/posts/{first}")
    feed = text_of(author.get(f"/training/{w.channel.id}"))
    assert '<del class="preview">First: the A40 is closed.</del>' in feed and "(retracted)" in feed
    assert "<del" not in feed[:feed.index(f'id="{remote_first}"')]  # the second is still up
    assert "Nothing has been published" in text_of(author.get(f"/training/{w.channel2.id}"))
    assert author.get("/training/9999").status_code == 404
    assert author.get(f"/training/{w.channel.id}", follow_redirects=False).status_code == 200
    assert app.test_client().get(f"/training/{w.channel.id}").status_code == 302  # sign in first


def test_a_lapsed_channel_is_on_the_dashboard_of_those_who_can_reconnect_it(app, web_world):
    """The worker holds a lapsed channel's posts; its unit's administrators are told where they look first."""
    from sqlalchemy import update

    from desk.models import Channel

    w = web_world
    with sessions_of(app)() as s:
        s.execute(update(Channel).where(Channel.id == w.channel2.id).values(
            status="needs_reconnect", status_reason="X no longer accepts the channel's authorisation."))
        s.commit()
        admin.add_membership(s, OPERATOR, w.outsider.id, w.other_unit.id, "unit_admin")
    page = text_of(as_user(app, w.admin.email).get("/dashboard"))
    assert "Channels to reconnect" in page and "DPA two-key feed" in page
    assert "X no longer accepts the channel's authorisation." in page and "Reconnect" in page
    for who in (w.author, w.outsider):  # an author of the unit, and another unit's administrator
        assert "Channels to reconnect" not in text_of(as_user(app, who.email).get("/dashboard"))
