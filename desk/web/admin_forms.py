"""Forms of the administration pages, and the helpers that put a service's refusal back on them.

The forms check only the shape of what was typed; the rules (a unit code's format, a unique e-mail,
a password's length, an event window that ends after it starts) are the admin services' to decide,
so that the web pages, the CLI and the API refuse the same things with the same words.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..domain import limits
from ..domain.errors import DeskError, ValidationFailed
from ..domain.timezones import parse_local, utc_to_local
from ..models import CHANNEL_STATUSES, ROLES, Channel, Unit, User
from .request_checks import id_value

ROLE_LABELS = {"author": "Author", "approver": "Approver", "unit_admin": "Unit administrator"}
STATUS_LABELS = {"active": "Active", "needs_reconnect": "Needs reconnecting", "dormant": "Dormant",
                 "archived": "Archived"}
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what an HTML datetime-local input sends and shows


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """A select's options from (value, label) pairs, after an optional empty 'none' option."""
    head = [SelectChoice("", blank)] if blank is not None else []
    return head + [SelectChoice(value, label) for value, label in pairs]


def fill_people_unit_channel(form, session) -> None:
    """The person, unit and channel selects that the audit and grant filters share, from the database."""
    people = session.execute(select(User.id, User.name, User.email).order_by(User.name, User.email))
    form.person.choices = choices(((uid, f"{name} <{email}>") for uid, name, email in people), "anyone")
    form.unit.choices = choices(session.execute(select(Unit.id, Unit.code).order_by(Unit.code)), "any unit")
    channels = session.execute(select(Channel.id, Channel.name, Unit.code).join(Channel.unit)
                               .order_by(Unit.code, Channel.name))
    form.channel.choices = choices(((cid, f"{code} · {name}") for cid, name, code in channels), "any channel")


def optional_id(value):
    """Coerce a select's value to an id; the empty choice means 'none'."""
    if value in (None, "", "None"):
        return None
    return id_value(value)


class UnitForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired("Give the unit a short code, e.g. CO11."),
                                           Length(max=limits.UNIT_CODE_MAX)])
    name = StringField("Name", validators=[DataRequired("Give the unit a name."), Length(max=limits.NAME_MAX)])


class _UserFields(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the person's name."), Length(max=200)])
    is_admin = BooleanField("Desk administrator")
    is_auditor = BooleanField("Auditor (reads and exports the audit trail)")
    # Any user may be picked: whether the choice is acceptable is the service's decision.
    line_manager = SelectField("Line manager", coerce=optional_id, validate_choice=False)


class UserCreateForm(_UserFields):
    email = EmailField("E-mail", validators=[DataRequired("Give the person's e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Give a first password.")])


class UserEditForm(_UserFields):
    active = BooleanField("Active (may sign in)")
    password = PasswordField("New password")


class MembershipForm(FlaskForm):
    user = SelectField("Person", coerce=optional_id, validators=[InputRequired("Choose a person.")],
                       validate_choice=False)
    # Not checked against the offered units: a forged unit reaches the service, which refuses and audits it.
    unit = SelectField("Unit", coerce=optional_id, validators=[InputRequired("Choose a unit.")],
                       validate_choice=False)
    role = SelectField("Role", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES], validate_choice=False)


class _ChannelFields(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the channel a name."), Length(max=200)])
    approvals_required = IntegerField("Approvals required", default=1,
                                      render_kw={"min": 1, "max": 5})
    live_from = StringField("Live from", render_kw={"type": "datetime-local"})
    live_until = StringField("Live until", render_kw={"type": "datetime-local"})
    is_event_feed = BooleanField("Event feed of an operation")
    operation_name = StringField("Operation", validators=[Length(max=200)])

    def event_feed(self) -> dict:
        return {"is_event_feed": self.is_event_feed.data, "operation_name": self.operation_name.data or ""}

    def window(self, zone: ZoneInfo, shown: dict[str, str] | None = None) -> dict[str, datetime | None | str]:
        """The event window in UTC, from local times; a time the clocks skip or repeat is refused.

        A time left as the page showed it stays "unchanged": re-reading a stored time in the repeated
        hour after the clocks go back would otherwise be refused as ambiguous.
        """
        values, errors = {}, {}
        for f in (self.live_from, self.live_until):
            text = (f.data or "").strip()
            if text and shown and text == shown.get(f.name):
                values[f.name] = "unchanged"
                continue
            try:
                values[f.name] = parse_local(text, zone) if text else None
            except ValidationFailed as exc:
                errors[f.name] = [exc.message]
        if errors:
            raise ValidationFailed(" ".join(m for v in errors.values() for m in v), field_errors=errors)
        return values


class ChannelCreateForm(_ChannelFields):
    unit = SelectField("Unit", coerce=optional_id, validators=[InputRequired("Choose the unit that owns it.")],
                       validate_choice=False)


class ChannelEditForm(_ChannelFields):
    status = SelectField("Status", choices=[SelectChoice(s, STATUS_LABELS[s]) for s in CHANNEL_STATUSES],
                         validate_choice=False)
    late_after_minutes = IntegerField("How late is too late (minutes)", validators=[Optional()],
                                      render_kw={"min": 0, "inputmode": "numeric"})


def local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    return utc_to_local(moment, zone).strftime(LOCAL_INPUT) if moment else ""


def show_refusal(session, form: FlaskForm, exc: DeskError) -> None:
    """Undo the attempt, put each message next to its field and keep what was typed."""
    session.rollback()
    unplaced = []
    for name, messages in (exc.field_errors or {}).items():
        field = form._fields.get(name)
        if field is None:
            unplaced.extend(messages)
        else:
            field.errors = list(field.errors) + list(messages)
    if exc.field_errors and not unplaced:
        flash("Nothing was saved: correct what is marked below (what you typed is kept) and send it again.",
              "error")
    else:
        flash(f"Nothing was saved: {exc.message if not unplaced else ' '.join(unplaced)}", "error")
