"""Forms of the access pages: ask for access, decide, revoke, filter every grant, and a unit's policy.

They check only the shape of what was typed; the rules (a real business case, a period within the
unit's policy, who decides) are the grant services' to decide, for the web and the API alike.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from ..domain import grants as rules
from ..domain import limits
from ..domain.errors import ValidationFailed
from ..domain.timezones import local_to_utc
from ..services.grant_queries import GrantFilter
from .admin_forms import choices, optional_id

ROLE_CHOICES = [SelectChoice(r, rules.ROLE_LABELS[r]) for r in rules.GRANT_ROLES]
STATE_CHOICES = [SelectChoice(s, label) for s, label in rules.STATE_LABELS.items()]


class RequestForm(FlaskForm):
    # Not checked against the offered channels: the service refuses an unknown or archived one in words.
    channel = SelectField("Channel", coerce=optional_id, validate_choice=False)
    role = SelectField("Access", choices=ROLE_CHOICES, validate_choice=False)
    business_case = TextAreaField("Business case", render_kw={"rows": 4},
                                  validators=[Length(max=limits.BUSINESS_CASE_MAX)],
                                  description="Why you need this access (the work, the event) and for how long. "
                                              "Your line manager reads it, and it stays on the record.")
    period_days = IntegerField("For how many days", validators=[Optional()],
                               description="Leave empty for the unit's usual period.")


class DecideForm(FlaskForm):
    comment = TextAreaField("Comment", render_kw={"rows": 2}, validators=[Length(max=limits.NOTE_MAX)],
                            description="Needed when you refuse: say what the person should do.")
    approve = SubmitField("Approve")
    refuse = SubmitField("Refuse")


class RevokeForm(FlaskForm):
    reason = TextAreaField("Reason", render_kw={"rows": 2}, validators=[Length(max=limits.NOTE_MAX)])


class UnitPolicyForm(FlaskForm):
    grant_period_days = IntegerField("A grant lasts (days)", validators=[
        Optional(), NumberRange(min=1, max=rules.MAX_PERIOD_DAYS, message=f"1 to {rules.MAX_PERIOD_DAYS} days.")])
    roles_grant_access = BooleanField("A role in this unit gives access to its channels without a grant")


class GrantFilterForm(FlaskForm):
    """Read from the query string: a filter changes nothing, so it needs no CSRF token."""

    class Meta:
        csrf = False

    person = SelectField("Person", coerce=optional_id, validate_choice=False)
    unit = SelectField("Unit", coerce=optional_id, validate_choice=False)
    channel = SelectField("Channel", coerce=optional_id, validate_choice=False)
    role = SelectField("Access", choices=choices(((c.value, c.label) for c in ROLE_CHOICES), "any"),
                       validate_choice=False)
    state = SelectField("State", choices=choices(((c.value, c.label) for c in STATE_CHOICES), "any"),
                        validate_choice=False)
    on = DateField("Could post on (date)", validators=[Optional()],
                   description="Grants that worked at any moment of that day (desk time).")

    def grant_filter(self, zone: ZoneInfo) -> GrantFilter | None:
        """The service's filter, or None (with the errors on the form) when something typed is not valid."""
        if not self.validate():
            return None
        since = until = None
        if self.on.data:
            try:
                since, until = day_bounds(self.on.data, zone)
            except ValidationFailed as exc:
                self.on.errors.append(exc.message)
                return None
        return GrantFilter(user_id=self.person.data, unit_id=self.unit.data, channel_id=self.channel.data,
                           role=self.role.data or None, state=self.state.data or None,
                           live_since=since, live_until=until)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local day as [midnight, next midnight) in UTC."""
    return (local_to_utc(datetime.combine(day, time(0)), zone),
            local_to_utc(datetime.combine(day + timedelta(days=1), time(0)), zone))
