"""flask --app app desk ...: the operator's commands. Each one calls a service, as the web views do.

The operator acts as `cli:<os user>`, so what they change is in the audit trail like anything else.
A wrong argument or a refused change is one line on standard error and a non-zero exit.
"""
from __future__ import annotations

import getpass
import os
import sys
from contextlib import contextmanager
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .db import make_engine, make_session_factory
from .domain.audit_keys import key_bytes
from .domain.errors import DeskError, ValidationFailed
from .models import Unit
from .services.audit_trail import SystemActor

desk_cli = AppGroup("desk", help="Operate the desk: database, users, channels, worker, audit.")


def operator() -> SystemActor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a bare container): the uid still says who
        name = f"uid{os.getuid()}"
    return SystemActor(f"cli:{name}")


def settings():
    return current_app.config["DESK_SETTINGS"]


@contextmanager
def session_scope():
    """A session of the app's shared factory; a domain refusal becomes a one-line error."""
    with current_app.extensions["desk.sessions"]() as session:
        try:
            yield session
        except DeskError as exc:
            session.rollback()
            raise click.ClickException(_one_line(exc)) from None


# The services name form fields; the operator typed these.
_ARG_NAMES = {"code": "CODE", "email": "EMAIL", "role": "ROLE", "name": "--name", "platform": "--platform",
              "approvals_required": "--approvals-required", "line_manager": "--line-manager",
              "password": "the password"}


def _one_line(exc: DeskError) -> str:
    fields = [_ARG_NAMES.get(k, k) for k in exc.field_errors]
    if len(fields) == 1:
        return f"{fields[0]}: {exc.message}"
    if fields:
        return "; ".join(f"{_ARG_NAMES.get(k, k)}: {' '.join(v)}" for k, v in exc.field_errors.items())
    return exc.message


def find_unit(session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == (code or "").strip().upper()))
    if unit is None:
        known = ", ".join(session.scalars(select(Unit.code).order_by(Unit.code))) or "none yet"
        raise click.ClickException(f"There is no unit {code!r} (units: {known}). Create it with create-unit.")
    return unit


def find_user(session, email: str):
    from .services.accounts import find_user as lookup

    user = lookup(session, email)
    if user is None:
        raise click.ClickException(f"There is no user {email!r}. Create them with create-user.")
    return user


def read_password() -> str:
    """From standard input only: never an argument (it would sit in the shell history and `ps`)."""
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    password = stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("No password on standard input. Pipe it in, e.g. "
                                   "`printf '%s\\n' \"$PW\" | flask --app app desk create-user ...`.")
    return password


# ---- database -----------------------------------------------------------------------------------

@desk_cli.command("upgrade-db")
def upgrade_db():
    """Apply the Alembic migrations (the only way the schema is made)."""
    from .crypto import startup_notices
    from .migrate import current_revision, upgrade

    # Said here, once, because this is the step every start-up and upgrade runs first (make run too).
    for notice in startup_notices(current_app.config["DESK_SETTINGS"].extra["platform_env"]):
        click.echo(f"Note: {notice}", err=True)
    engine = current_app.extensions["desk.engine"]
    upgrade(engine)
    click.echo(f"Database {engine.url.render_as_string(hide_password=True)} is at revision "
               f"{current_revision(engine)}.")


@desk_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Succeed quietly when the desk already has users.")
def demo(if_empty):
    """Load the demo units, people, channels and posts into an empty desk."""
    from . import demo as demo_data

    with session_scope() as s:
        if if_empty and demo_data.has_users(s):
            click.echo("The desk already has users: demo data not loaded.")
        else:
            counts = demo_data.load(s, operator(), settings().zone)
            click.echo("Demo data loaded: " + ", ".join(f"{n} {what}" for what, n in counts.items()) + ".")
        if demo_data.has_demo_users(s):
            click.echo(f"Demo sign-ins (password {demo_data.PASSWORD}, demo only):")
            for email, who in demo_data.sign_ins():
                click.echo(f"  {email:<26} {who}")


# ---- units, users, channels, tokens -------------------------------------------------------------

@desk_cli.command("create-unit")
@click.argument("code")
@click.option("--name", required=True, help="The unit's full name, e.g. 'Public Order'.")
def create_unit(code, name):
    """Create a unit (CODE such as CO11)."""
    from .services import admin

    with session_scope() as s:
        unit = admin.create_unit(s, operator(), code, name)
        click.echo(f"Unit {unit.code} ({unit.name}) created.")


@desk_cli.command("create-user")
@click.argument("email")
@click.option("--name", required=True, help="The person's name.")
@click.option("--password-stdin", "password_stdin", is_flag=True,
              help="Read the password from standard input (the only way to give it).")
@click.option("--admin", "is_admin", is_flag=True, help="A desk administrator.")
@click.option("--auditor", "is_auditor", is_flag=True, help="May read, export and verify the audit trail.")
@click.option("--line-manager", metavar="EMAIL", help="Their line manager (an existing user).")
def create_user(email, name, password_stdin, is_admin, is_auditor, line_manager):
    """Create a user; the password comes from standard input."""
    from .services import admin

    if not password_stdin:
        raise click.UsageError("Give the password on standard input with --password-stdin; "
                               "the desk never takes one on the command line.")
    password = read_password()
    with session_scope() as s:
        user = admin.create_user(s, operator(), email, name, password, is_admin=is_admin, is_auditor=is_auditor,
                                 line_manager_email=line_manager)
        click.echo(f"User {user.email} created.")


@desk_cli.command("add-membership")
@click.argument("email")
@click.argument("unit_code")
@click.argument("role")
def add_membership(email, unit_code, role):
    """Give a user a ROLE (author, approver, unit_admin) in a unit."""
    from .services import admin

    with session_scope() as s:
        user, unit = find_user(s, email), find_unit(s, unit_code)
        admin.add_membership(s, operator(), user.id, unit.id, role)
        click.echo(f"{user.email} is now {role} in {unit.code}.")


@desk_cli.command("create-channel")
@click.option("--unit", "unit_code", required=True, metavar="CODE", help="The owning unit's code.")
@click.option("--platform", required=True, help="The platform, e.g. training.")
@click.option("--name", required=True, help="The channel's name as people see it.")
@click.option("--approvals-required", type=int, default=1, show_default=True,
              help="How many different approvers each post needs.")
def create_channel(unit_code, platform, name, approvals_required):
    """Create a channel; prints only its id."""
    from .services import admin

    with session_scope() as s:
        unit = find_unit(s, unit_code)
        channel = admin.create_channel(s, operator(), unit.id, platform, name, approvals_required=approvals_required)
        click.echo(channel.id)


@desk_cli.command("create-token")
@click.argument("email")
def create_token(email):
    """Print a new personal access token for the API (stored hashed: shown this once)."""
    from .services import accounts

    with session_scope() as s:
        user = find_user(s, email)
        if not user.active:
            raise click.ClickException(f"{user.email} is disabled: enable the account before giving it a token.")
        click.echo(accounts.create_token(s, operator(), user))


# ---- the worker ---------------------------------------------------------------------------------

@desk_cli.command("worker")
@click.option("--status", "show_status", is_flag=True,
              help="Do not run a worker: print how publishing stands (workers, heartbeats, claims, queue, oldest "
                   "overdue, failures of the last 24 hours) and exit 0 when a worker is alive or nothing is due, "
                   "1 when posts are due and no worker is alive (for monitoring).")
@click.option("--json", "as_json", is_flag=True, help="With --status: the same as JSON, for machines.")
def worker(show_status, as_json):
    """Run the publishing worker in the foreground until SIGTERM or Ctrl-C (or, with --status, report on it)."""
    from . import worker as publishing_worker

    if as_json and not show_status:
        raise click.UsageError("--json goes with --status.")
    if show_status:
        sys.exit(worker_status(as_json))

    publishing_worker.configure_logging()
    s = settings()
    engine, sessions = current_app.extensions["desk.engine"], current_app.extensions["desk.sessions"]
    if engine.dialect.name != "sqlite":
        # A connection for each call in flight, the heartbeat and the passes: with the default five, the
        # pool's overflow would open and close a server connection for nearly every post.
        engine = make_engine(s.database_url, pool_size=s.worker_pool_size + 4, max_overflow=4)
        sessions = make_session_factory(engine, audit_key=key_bytes(s.audit_key))
    try:
        publishing_worker.serve(s, engine, sessions)
    except publishing_worker.WorkerRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if engine is not current_app.extensions["desk.engine"]:
            engine.dispose()


def worker_status(as_json: bool) -> int:
    """Print the publishing status; the exit status says whether anything is publishing what is due."""
    import json

    from .domain.clock import utcnow
    from .services import target_decisions
    from .services import worker_status as status
    from .services import worker_status_text as status_text

    with session_scope() as s:
        now = utcnow()
        snap = status.snapshot(s, now, settings())
        waiting = target_decisions.waiting_for_person(s, operator(), now)
    if as_json:
        out = snap.to_dict()
        out["waiting"] = [{"target_id": w.target_id, "post_id": w.post_id, "channel_id": w.channel_id,
                           "channel": w.channel_name, "unit": w.unit_code, "kind": w.kind, "decidable": w.decidable}
                          for w in waiting]
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        click.echo(status_text.render(snap, settings().zone, waiting))
    return 0 if snap.healthy else 1


@desk_cli.command("reset-two-factor")
@click.argument("email")
@click.option("--reason", required=True, help="Why, for the audit trail (e.g. 'lost phone, identity checked').")
def reset_two_factor(email, reason):
    """Clear a person's two-factor set-up (a lost phone, the last administrator locked out)."""
    from .services import two_factor

    with session_scope() as s:
        user = two_factor.reset(s, operator(), find_user(s, email).id, reason)
        click.echo(f"Two-factor sign-in for {user.email} is reset: they set it up again at their next sign-in. "
                   "A sign-in block on the account (if any) ends with its window, or when an administrator "
                   "resets it again from the web.")


@desk_cli.command("clean-media")
def clean_media():
    """Give media stored before cleaning existed a published copy without location or camera data."""
    from .services import media

    with session_scope() as s:
        count, problems = media.clean_stored(s, operator(), settings().media_dir,
                                             max_pixels=settings().max_image_pixels)
    click.echo(f"Cleaned {count} stored file(s): their published copies no longer carry location or camera data.")
    for problem in problems:
        click.echo(f"Not cleaned: {problem}", err=True)
    if problems:
        sys.exit(1)


# ---- the emergency stop -------------------------------------------------------------------------

@desk_cli.command("pause")
@click.option("--reason", required=True, help="Why publishing stops (everyone sees it on every page).")
@click.option("--unit", "unit_code", metavar="CODE", help="Pause one unit only (default: the whole desk).")
@click.option("--by", "by_email", required=True, metavar="EMAIL",
              help="The administrator on whose authority the desk is paused (the pause records a person).")
def pause(reason, unit_code, by_email):
    """Stop every publication at once (the whole desk, or --unit CODE); what falls due is held."""
    from .services import pauses

    with session_scope() as s:
        unit = find_unit(s, unit_code) if unit_code else None
        row = pauses.pause(s, operator(), reason, unit.id if unit else None, on_behalf_of=find_user(s, by_email))
        click.echo(f"Publishing is paused for {unit.code if unit else 'the whole desk'} (pause {row.id}). "
                   "Nothing already sending is interrupted; resume with `flask --app app desk resume"
                   f"{' --unit ' + unit.code if unit else ''}`.")


@desk_cli.command("resume")
@click.option("--unit", "unit_code", metavar="CODE", help="Resume one unit's pause (default: the desk-wide one).")
@click.option("--by", "by_email", metavar="EMAIL", help="The administrator on whose authority it resumes.")
def resume(unit_code, by_email):
    """End a pause: what was on its way goes on; late posts wait for a person on the emergency stop page."""
    from .services import pauses

    with session_scope() as s:
        unit = find_unit(s, unit_code) if unit_code else None
        current = pauses.active(s).get(unit.id if unit else None)
        if current is None:
            raise click.ClickException(f"Publishing is not paused for {unit.code if unit else 'the whole desk'}"
                                       " (a unit's own pause is resumed with --unit CODE).")
        result = pauses.resume(s, operator(), current.id, on_behalf_of=find_user(s, by_email) if by_email else None)
        click.echo(f"Publishing resumed for {current.scope.removeprefix('for ')}: {len(result.released)} post(s) "
                   f"released, {len(result.awaiting)} whose time passed during the pause wait for a person to "
                   "send or withdraw them on the emergency stop page (/pauses).")


# ---- the audit trail ----------------------------------------------------------------------------

@desk_cli.group("audit")
def audit():
    """Verify and export the audit trail."""


def _heads(_ctx, _param, values):
    from .domain.audit_anchors import parse_head

    try:
        return tuple(parse_head(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit.command("verify")
@click.option("--expect-head", "heads", metavar="SEQ:HASH", multiple=True, callback=_heads,
              help="A head as an anchor recorded it: fail if the trail no longer reaches that row with that hash "
                   "(rows cut from its end, or a chain rebuilt). May be given more than once.")
def audit_verify(heads):
    """Walk the hash chain (and the HMACs, with DESK_AUDIT_KEY); exit 1 and name the first bad row when broken."""
    from .services import audit_trail

    with session_scope() as s:
        report = audit_trail.verify(s, heads)
    if report.ok:
        click.echo(f"Audit chain intact: {report.checked} rows.")
        # The head is what an outside record must hold to catch a later truncation of the tail.
        click.echo(f"Head: row {report.checked}, hash {report.head_hash}")
        click.echo(_keyed_words(report))
        for head in heads:
            click.echo(f"Reaches the anchored head {head}.")
        return
    # After an anchor's failure the rows before it need not be intact: only a fault of the walk says they are.
    intact = (f" The {report.checked} rows before it are intact." if report.checked and
              report.bad_seq == report.checked + 1 else "")
    click.echo(f"Audit chain BROKEN at row {report.bad_seq}: {report.problem}.{intact} Keep the database as it "
               "is and tell the information security team.", err=True)
    sys.exit(1)


def _keyed_words(report) -> str:
    if report.keyed_from is None:
        return ("No row carries an HMAC: the next row written starts the keyed chain." if report.macs_checked else
                "No row carries an HMAC (DESK_AUDIT_KEY is not set).")
    if report.macs_checked:
        return f"Keyed from row {report.keyed_from}: every row from there matches its HMAC under DESK_AUDIT_KEY."
    return (f"Keyed from row {report.keyed_from}, but DESK_AUDIT_KEY is not set here, so the HMACs were not "
            "checked: a chain rebuilt from the database alone would pass. Run it again with the key.")


@audit.command("anchor")
def audit_anchor():
    """Write the trail's head (row and hash) to DESK_AUDIT_ANCHOR: a file, syslog, or an e-mail."""
    from .services import audit_anchors

    if not settings().audit_anchor:
        raise click.ClickException("DESK_AUDIT_ANCHOR is not set, so there is nowhere to anchor the head: set it "
                                   "to file:///path, syslog://HOST:PORT or mailto:ADDRESS. Nothing was written.")
    with session_scope() as s:
        head = audit_anchors.anchor(s, operator(), settings().audit_anchor,
                                    audit_anchors.MailServer.from_settings(settings()))
    click.echo(f"Anchored the head, row {head.seq}, to {settings().audit_anchor}. Later, "
               f"`desk audit verify --expect-head {head}` checks that the trail still reaches it.")


def _local_bound(text: str | None, option: str, end: bool = False):
    """'YYYY-MM-DD' (a whole day) or 'YYYY-MM-DD HH:MM', in the desk's time zone, to UTC."""
    from datetime import date

    from .domain.timezones import parse_local

    if not text:
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)  # --until takes in the whole day
            return parse_local(f"{day.isoformat()} 00:00", settings().zone)
        return parse_local(text, settings().zone)
    except ValueError:
        raise click.ClickException(f"{option}: {text!r} is not a date: write YYYY-MM-DD or YYYY-MM-DD HH:MM.") from None
    except ValidationFailed as exc:
        raise click.ClickException(f"{option}: {exc.message}") from None


@audit.command("export")
@click.option("--csv", "out", required=True, type=click.File("w", encoding="utf-8", lazy=True),
              help="The CSV file to write ('-' for standard output).")
@click.option("--actor", metavar="EMAIL", help="Only what this person did.")
@click.option("--unit", "unit_code", metavar="CODE", help="Only events about this unit, its channels and posts.")
@click.option("--channel", "channel_id", type=int, help="Only events about this channel id.")
@click.option("--post", "post_id", type=int, help="Only events about this post id.")
@click.option("--action", help="Only this action; '*' matches anything, e.g. 'post.*'.")
@click.option("--since", metavar="DATE", help="From this local date (YYYY-MM-DD) or time (YYYY-MM-DD HH:MM).")
@click.option("--until", metavar="DATE", help="Up to this local date (inclusive) or time (exclusive).")
def audit_export(out, actor, unit_code, channel_id, post_id, action, since, until):
    """Write the audit trail, or the part the filters select, as CSV."""
    from .services import audit_trail

    with session_scope() as s:
        f = audit_trail.AuditFilter(
            actor_id=find_user(s, actor).id if actor else None,
            unit_id=find_unit(s, unit_code).id if unit_code else None,
            channel_id=channel_id, post_id=post_id, action=action,
            since=_local_bound(since, "--since"), until=_local_bound(until, "--until", end=True))
        count = audit_trail.export(s, operator(), f, out, getattr(out, "name", "-"))
        getattr(out, "close_intelligently", out.close)()  # never closes standard output
    click.echo(f"Wrote {count} audit events to {getattr(out, 'name', '-')}.", err=True)


# ---- channel credentials ------------------------------------------------------------------------

@desk_cli.command("rotate-token-key")
def rotate_token_key():
    """Re-encrypt every channel's credentials and pending connection with DESK_TOKEN_KEY's newest key."""
    from .services import token_rotation

    with session_scope() as s:
        done = token_rotation.rotate_token_key(s, operator())
    click.echo(f"Re-encrypted with the newest key: {done.channels} channel credential(s) and {done.attempts} "
               "connection attempt(s) (their kept secrets).")
    if done.unreadable_channels or done.unreadable_attempts:
        ids = ", ".join(str(i) for i in done.unreadable_channels) or "none"
        click.echo(f"Could not read with any listed key: channels {ids}; {done.unreadable_attempts} connection(s). "
                   "Reconnect those channels (their credentials were left as they were).", err=True)
    else:
        click.echo("Every credential now uses the newest key: older keys can be removed from DESK_TOKEN_KEY.")
