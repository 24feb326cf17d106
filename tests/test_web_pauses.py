"""The emergency stop in the browser and at the shell: pause with a reason, the banner on every page,
resume, and the late posts a person sends or withdraws."""
from datetime import timedelta

from sqlalchemy import select

from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.models import AuditEvent, Pause, Post
from desk.platforms import PlatformContext
from desk.services import admin, posts
from desk.services.posts import PostInput, TargetInput
from desk.worker import run_pass

from conftest import OPERATOR, login, post_form


def approved_post(app, world, when, body="The A40 is closed eastbound after a collision."):
    s = world.session
    data = PostInput(body=body, targets=[TargetInput(world.channel.id, None, when)])
    post = posts.save_draft(s, world.author, data).post
    posts.submit(s, world.author, post.id)
    posts.approve(s, world.approver, post.id)
    return post.id


def worker_pass(app, now):
    sessions = app.extensions["desk.sessions"]
    return run_pass(sessions, PlatformContext(app.config["DESK_SETTINGS"], sessions), "web-test:1",
                    app.config["DESK_SETTINGS"], now=now)


def target_status(app, post_id):
    with app.extensions["desk.sessions"]() as s:
        return s.get(Post, post_id).targets[0].status


def test_pause_shows_a_banner_everywhere_and_resume_asks_about_late_posts(app, client, web_world):
    post_id = approved_post(app, web_world, utcnow() + timedelta(minutes=1))
    login(client, web_world.admin.email)
    refused = post_form(client, "/pauses/", {"scope": "desk", "reason": ""})
    assert "Say why: everyone sees it on every page." in refused.get_data(as_text=True)
    done = post_form(client, "/pauses/", {"scope": "desk", "reason": "Major incident in Croydon"},
                     follow_redirects=True)
    assert "Publishing is paused for the whole desk" in done.get_data(as_text=True)

    author = app.test_client()
    login(author, web_world.author.email)
    for page in ("/dashboard", "/posts/", "/channels/"):
        html = author.get(page).get_data(as_text=True)
        assert "Publishing is paused for the whole desk" in html and "Major incident in Croydon." in html
    assert author.get("/pauses/").status_code == 403

    worker_pass(app, utcnow() + timedelta(minutes=5))
    assert target_status(app, post_id) == wf.T_HELD
    with app.extensions["desk.sessions"]() as s:
        pause_id = s.scalar(select(Pause.id))
    resumed = post_form(client, f"/pauses/{pause_id}/resume", {}, page_url="/pauses/", follow_redirects=True)
    html = resumed.get_data(as_text=True)
    assert "1 post(s) whose time passed during the pause wait for you" in html
    assert "The A40 is closed eastbound" in html and "Send now" in html
    assert "Publishing is paused" not in author.get("/dashboard").get_data(as_text=True)

    worker_pass(app, utcnow() + timedelta(minutes=6))
    assert target_status(app, post_id) == wf.T_HELD  # waits for the person
    with app.extensions["desk.sessions"]() as s:
        target_id = s.get(Post, post_id).targets[0].id
    post_form(client, f"/pauses/targets/{target_id}/send-now", {}, page_url="/pauses/")
    worker_pass(app, utcnow() + timedelta(minutes=7))
    assert target_status(app, post_id) == wf.T_PUBLISHED


def test_a_unit_administrator_pauses_their_unit_and_withdraws_a_late_post(app, client, web_world):
    admin.add_membership(web_world.session, OPERATOR, web_world.manager.id, web_world.unit.id, "unit_admin")
    post_id = approved_post(app, web_world, utcnow() + timedelta(minutes=1))
    login(client, web_world.manager.email)
    page = client.get("/pauses/").get_data(as_text=True)
    assert "The whole desk" not in page and "DPA: Directorate of Public Affairs" in page
    post_form(client, "/pauses/", {"scope": str(web_world.unit.id), "reason": "Leak inquiry"})
    outsider = app.test_client()
    login(outsider, web_world.outsider.email)
    assert "Publishing is paused" not in outsider.get("/dashboard").get_data(as_text=True)  # CO11 goes on
    assert "Publishing is paused for DPA" in client.get("/dashboard").get_data(as_text=True)

    worker_pass(app, utcnow() + timedelta(minutes=5))
    with app.extensions["desk.sessions"]() as s:
        pause_id = s.scalar(select(Pause.id))
        target_id = s.get(Post, post_id).targets[0].id
    post_form(client, f"/pauses/{pause_id}/resume", {}, page_url="/pauses/")
    post_form(client, f"/pauses/targets/{target_id}/withdraw", {}, page_url="/pauses/")
    with app.extensions["desk.sessions"]() as s:
        assert s.get(Post, post_id).status == wf.WITHDRAWN
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions[-1] == "post.withdrawn" and "target.withdrawn_after_pause" in actions
    assert "pause.started" in actions and "pause.ended" in actions


def test_pause_and_resume_from_the_command_line(app, web_world):
    runner = app.test_cli_runner()
    nobody = runner.invoke(args=["desk", "pause", "--reason", "Console stop"])
    assert nobody.exit_code != 0 and "--by" in nobody.output
    result = runner.invoke(args=["desk", "pause", "--reason", "Console stop", "--unit", "dpa",
                                 "--by", web_world.admin.email])
    assert result.exit_code == 0, result.output
    assert "Publishing is paused for DPA" in result.output
    again = runner.invoke(args=["desk", "pause", "--reason", "Twice", "--unit", "DPA", "--by", web_world.admin.email])
    assert again.exit_code == 1 and "already paused for DPA" in again.output
    not_paused = runner.invoke(args=["desk", "resume"])
    assert not_paused.exit_code == 1 and "not paused for the whole desk" in not_paused.output
    done = runner.invoke(args=["desk", "resume", "--unit", "DPA"])
    assert done.exit_code == 0 and "Publishing resumed for DPA: 0 post(s) released" in done.output
    with app.extensions["desk.sessions"]() as s:
        started = s.scalar(select(AuditEvent).where(AuditEvent.action == "pause.started"))
        assert started.actor.startswith("cli:") and web_world.admin.email in started.details
