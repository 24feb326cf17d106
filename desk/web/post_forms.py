"""The forms of the press officer's and the approver's pages, and the glue between them and the services.

Field names are stable (`body`, `channels`, `target-<channel id>-text`, ...) because the services key
their problems by them and a browser test fills them in.
"""
from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import BooleanField, Form, FormField, HiddenField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..errors import ValidationFailed
from ..services.posts import PostInput, TargetInput
from ..timezones import parse_local, utc_to_local

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class TargetForm(Form):
    """What may differ on one channel: its own text and its own time (both optional)."""

    text = TextAreaField("Text for this channel", filters=[_strip],
                         description="Leave empty to use the post's text.")
    scheduled_at = StringField("Own time", filters=[_strip], render_kw={"type": "datetime-local"},
                               description="Leave empty to use the post's time.")


class PostForm(FlaskForm):
    body = TextAreaField("Text", render_kw={"rows": 6})
    link = StringField("Link", filters=[_strip], validators=[Optional(), Length(max=2000)],
                       render_kw={"type": "url", "placeholder": "https://"})
    # Any channel id is accepted here: whether this person may post to it is the service's decision,
    # which refuses and audits a forged one.
    channels = SelectMultipleField("Channels", coerce=int, validate_choice=False,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    scheduled_at = StringField("Proposed time", filters=[_strip], render_kw={"type": "datetime-local"})
    asap = BooleanField("As soon as approved")


def post_form(channels, **kwargs) -> PostForm:
    """A PostForm with a `target-<id>` sub-form for each channel offered."""

    class _PostForm(PostForm):
        pass

    for c in channels:
        setattr(_PostForm, f"target_{c.id}", FormField(TargetForm, name=f"target-{c.id}", label=c.name))
    form = _PostForm(**kwargs)
    form.channels.choices = [(c.id, c.name) for c in channels]
    return form


def target_form(form: PostForm, channel_id: int):
    return form._fields.get(f"target_{channel_id}")


def data_from_post(post, zone: ZoneInfo) -> dict:
    """The form's starting values for an existing post: the commonest time becomes the post's time.

    'As soon as approved' wins whenever any channel has it, since an empty own time means the post's time.
    """
    def local(moment):
        return utc_to_local(moment, zone).strftime(LOCAL_INPUT) if moment else ""

    times = Counter(t.scheduled_at for t in post.targets)
    common = None if None in times or not times else times.most_common(1)[0][0]
    data = {"body": post.body, "link": post.link or "", "channels": [t.channel_id for t in post.targets],
            "scheduled_at": local(common), "asap": bool(post.targets) and common is None}
    for t in post.targets:
        data[f"target_{t.channel_id}"] = {"text": t.text or "",
                                          "scheduled_at": local(t.scheduled_at) if t.scheduled_at != common else ""}
    return data


def read_post_input(form: PostForm, zone: ZoneInfo) -> tuple[PostInput, dict[str, list[str]]]:
    """Turn the form into the service's input; times that cannot be read come back as field errors."""
    errors: dict[str, list[str]] = {}

    def parse(text, key):
        if not text:
            return None
        try:
            return parse_local(text, zone)
        except ValidationFailed as exc:
            errors.setdefault(key, []).append(exc.message)
            return None

    post_time = parse(form.scheduled_at.data, "scheduled_at")
    asap = bool(form.asap.data)
    if asap and form.scheduled_at.data:
        errors.setdefault("scheduled_at", []).append(
            "Give a time or tick 'As soon as approved', not both.")
    targets = []
    needs_post_time = False
    for channel_id in dict.fromkeys(form.channels.data or []):
        sub = target_form(form, channel_id)
        text = sub.text.data if sub else None
        own_text = sub.scheduled_at.data if sub else ""
        own = parse(own_text, f"target-{channel_id}-scheduled_at")
        needs_post_time |= not own_text
        targets.append(TargetInput(channel_id, text or None, own or (None if asap else post_time)))
    if needs_post_time and not asap and not form.scheduled_at.data:
        errors.setdefault("scheduled_at", []).append(
            "Choose a proposed time, or tick 'As soon as approved'.")
    return PostInput(body=form.body.data or "", link=form.link.data or None, targets=targets), errors


def apply_errors(form, errors: dict[str, list[str]]) -> None:
    """Show each message next to its field; a per-channel time left empty means the post's time."""
    fields = {}
    for f in form:
        for sub in (f if isinstance(f, FormField) else [f]):
            fields[sub.name] = sub
    for key, messages in errors.items():
        field = fields.get(key)
        if field is not None and key.endswith("-scheduled_at") and not field.data and "scheduled_at" in fields:
            field = fields["scheduled_at"]
        target = field.errors if field is not None else form.form_errors
        if isinstance(target, tuple):
            field.errors = target = list(target)
        for message in messages:
            if message not in target:
                target.append(message)


class ActionForm(FlaskForm):
    """A button that changes state: CSRF only."""


class WithdrawForm(FlaskForm):
    reason = StringField("Reason (optional)", id="withdraw-reason", filters=[_strip], validators=[Optional(), Length(max=2000)])


class RetractForm(FlaskForm):
    reason = TextAreaField("Reason for the retraction", id="retract-reason", filters=[_strip], render_kw={"rows": 2},
                           validators=[DataRequired("Give the reason for the retraction: it goes on the record."),
                                       Length(max=2000)])


class ApproveForm(FlaskForm):
    expected_hash = HiddenField(validators=[DataRequired("The form did not say which version you read.")])
    comment = TextAreaField("Comment (optional)", id="approve-comment", filters=[_strip], render_kw={"rows": 2},
                            validators=[Optional(), Length(max=2000)])


class RejectForm(FlaskForm):
    expected_hash = HiddenField(validators=[DataRequired("The form did not say which version you read.")])
    comment = TextAreaField("Why it is rejected", id="reject-comment", filters=[_strip], render_kw={"rows": 3},
                            validators=[DataRequired("Say why it is rejected, so the author can put it right."),
                                        Length(max=2000)])
