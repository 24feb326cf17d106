"""Forms of the template pages: writing a template, approving and suspending it, and posting an update."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain import limits, template_gate
from ..domain import post_templates as domain

ROWS, MAX_ROWS = 4, domain.MAX_FIELDS


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class FieldRow(Form):
    """One typed field of a template (a sub-form: the page's CSRF token covers it)."""

    name = StringField("Name in the text", filters=[_strip], render_kw={"placeholder": "road"})
    label = StringField("Label for staff", filters=[_strip], render_kw={"placeholder": "Road"})
    type = SelectField("Type", default="",
                       choices=[SelectChoice("", "—"), *(SelectChoice(k, v) for k, v in domain.FIELD_TYPES.items())])
    limit = StringField("Most characters (text) or highest number (number)", filters=[_strip],
                        render_kw={"inputmode": "numeric", "size": 6})
    choices = TextAreaField("Choices, one per line (choice)", render_kw={"rows": 3})


class TemplateForm(FlaskForm):
    name = StringField("Name", filters=[_strip], validators=[Length(max=200)])
    body = TextAreaField("Text of the update", render_kw={"rows": 4}, validators=[Length(max=limits.POST_TEXT_MAX)])
    channel_ids = SelectMultipleField("Channels", coerce=int, widget=ListWidget(prefix_label=False),
                                      option_widget=CheckboxInput())
    fields = FieldList(FormField(FieldRow), min_entries=ROWS, max_entries=MAX_ROWS)


def template_form(channels, data: dict | None = None) -> TemplateForm:
    """Bound to the request when it is a POST; filled from `data` (a template's) otherwise."""
    form = TemplateForm() if data is None else TemplateForm(formdata=None, data=data)
    form.channel_ids.choices = [(c.id, c.name) for c in channels]
    while len(form.fields) < min(MAX_ROWS, len([r for r in form.fields if r.form.name.data]) + 2):
        form.fields.append_entry()
    return form


def data_of(template, specs, channel_ids) -> dict:
    return {"name": template.name, "body": template.body, "channel_ids": channel_ids,
            "fields": [{"name": s.name, "label": s.label, "type": s.type, "limit": str(s.limit or ""),
                        "choices": "\n".join(s.choices)} for s in specs]}


def rows_of(form: TemplateForm) -> list[dict]:
    """The filled-in rows; a row left wholly empty is not a field."""
    rows = []
    for entry in form.fields:
        row = {k: entry.form[k].data for k in ("name", "label", "type", "limit", "choices")}
        if any((v or "").strip() for v in row.values()):
            rows.append(row)
    return rows


def apply_errors(form, errors: dict[str, list[str]], aliases: dict[str, str] | None = None) -> None:
    """Each message next to its field (sub-fields of rows included); the rest above the form."""
    fields = {}
    for f in form:
        fields[f.name] = f
        if isinstance(f, FieldList):
            for entry in f:
                for sub in entry.form:
                    fields[f"{entry.name}-{sub.short_name}"] = sub
    for key, messages in errors.items():
        target = fields.get((aliases or {}).get(key, key))
        bucket = list(target.errors) if target is not None else form.form_errors
        bucket.extend(m for m in messages if m not in bucket)
        if target is not None:
            target.errors = bucket


class ApproveTemplateForm(FlaskForm):
    expected_hash = HiddenField(validators=[DataRequired("The form did not say which version you read.")])
    acknowledge_warnings = BooleanField("I have read the warnings")


class SuspendForm(FlaskForm):
    reason = TextAreaField("Why it is suspended", render_kw={"rows": 2}, filters=[_strip],
                           validators=[DataRequired("Say why it is suspended: it goes on the record."),
                                       Length(max=2000)])


def publish_form(specs, bind: bool = True):
    """Only the template's fields, each as its type asks, and when it goes."""

    class _PublishForm(FlaskForm):
        when = RadioField("When", choices=[SelectChoice("now", "As soon as possible"),
                                           SelectChoice("later", "At a time")], default="now")
        scheduled_at = StringField("Time", filters=[_strip], render_kw={"type": "datetime-local"},
                                   validators=[Optional()])
        acknowledge_warnings = BooleanField(template_gate.SEND_LABEL + " (I have read the warnings)")

    for spec in specs:
        kw = {"name": f"values.{spec.name}", "description": spec.describe()}
        if spec.type == domain.CHOICE:
            field = SelectField(spec.label, choices=[SelectChoice("", "— choose —"),
                                                     *(SelectChoice(c, c) for c in spec.choices)],
                                default="", validate_choice=False, **kw)  # the service says what is allowed
        elif spec.type == domain.TIME:
            field = StringField(spec.label, filters=[_strip], render_kw={"type": "time"}, **kw)
        elif spec.type == domain.NUMBER:  # inputmode, not type=number: browsers differ on what a number is
            field = StringField(spec.label, filters=[_strip], render_kw={"inputmode": "numeric", "size": 7}, **kw)
        else:
            field = StringField(spec.label, filters=[_strip], render_kw={"maxlength": spec.limit}, **kw)
        setattr(_PublishForm, f"value_{spec.name}", field)
    return _PublishForm() if bind else _PublishForm(formdata=None)


def values_of(form, specs) -> dict[str, str]:
    return {s.name: form[f"value_{s.name}"].data or "" for s in specs}
