"""The forms of the press officer's and the approver's pages, and the glue between them and the services.

Field names are stable (`body`, `channels`, `target-<channel id>-text`, ...) because the services key
their problems by them and a browser test fills them in.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    FormField,
    HiddenField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain import limits, recurrence
from ..domain.errors import ValidationFailed
from ..domain.timezones import parse_local, utc_to_local
from ..services.posts import PostInput, RecurrenceInput, TargetInput, extra_of
from .request_checks import id_value

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows

# The per-platform fields a press officer fills in (Content.extra); platforms not named here take the text only.
PRIVACY_CHOICES = {
    "youtube": [("public", "Public: anyone can find and watch it"),
                ("unlisted", "Unlisted: only people who have the link"),
                ("private", "Private: only the channel's own account")],
    "flickr": [("public", "Public: anyone"), ("friends", "Friends only"), ("family", "Family only"),
               ("private", "Private: only the account itself")],
}
EXTRA_FIELDS = ("title", "description", "tags", "privacy")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _ids():
    # Any id is accepted here: whether this person may use the file is the service's decision.
    return SelectMultipleField(coerce=id_value, validate_choice=False)


class TargetForm(Form):
    """What may differ on one channel: its own text, its own time (both optional) and its files."""

    text = TextAreaField("Text for this channel", filters=[_strip], validators=[Length(max=limits.POST_TEXT_MAX)],
                         description="Leave empty to use the post's text.")
    scheduled_at = StringField("Own time", filters=[_strip], render_kw={"type": "datetime-local"},
                               description="Leave empty to use the post's time.")
    media = _ids()  # one checkbox per file of the post, drawn by the template


def _extras_form(platform: str) -> type[TargetForm]:
    """A channel's sub-form with the fields its platform asks for (title, description, tags, privacy)."""
    word = "Visibility" if platform == "flickr" else "Privacy"

    class _Extras(TargetForm):
        title = StringField("Title", filters=[_strip], validators=[Length(max=limits.TITLE_MAX)])
        description = TextAreaField("Description", filters=[_strip], render_kw={"rows": 4},
                                    validators=[Length(max=limits.DESCRIPTION_MAX)])
        tags = StringField("Tags", filters=[_strip], description="Separated by commas; a tag may have spaces.")
        privacy = SelectField(word, choices=[SelectChoice(v, label) for v, label in PRIVACY_CHOICES[platform]],
                              default="public")

    return _Extras


def has_extras(sub) -> bool:
    return sub is not None and "privacy" in sub.form._fields


def split_tags(text: str | None) -> list[str]:
    """'road closure, A40 ,,Camden' -> ['road closure', 'A40', 'Camden']: repeats dropped, order kept."""
    return list(dict.fromkeys(" ".join(t.split()) for t in (text or "").split(",") if t.strip()))


class PostForm(FlaskForm):
    body = TextAreaField("Text", render_kw={"rows": 6}, validators=[Length(max=limits.POST_TEXT_MAX)])
    link = StringField("Link", filters=[_strip], validators=[Optional(), Length(max=limits.LINK_MAX)],
                       render_kw={"type": "url", "placeholder": "https://"})
    # Any channel id is accepted here: whether this person may post to it is the service's decision,
    # which refuses and audits a forged one.
    channels = SelectMultipleField("Channels", coerce=id_value, validate_choice=False,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    scheduled_at = StringField("Proposed time", filters=[_strip], render_kw={"type": "datetime-local"})
    asap = BooleanField("As soon as approved")
    # Named as the services key their problems, so that each message lands beside its field.
    recurrence_rule = StringField("Repeat", filters=[_strip], validators=[Optional(), Length(max=limits.RULE_MAX)],
                                  render_kw={"placeholder": "daily 08:00"})
    recurrence_until = StringField("Repeat until", filters=[_strip], render_kw={"type": "date"})
    media = MultipleFileField("Add photos or videos", render_kw={"accept": "image/*,video/*"})
    listed = _ids()   # the files the form showed, each with a checkbox per channel
    library = _ids()  # files picked from the unit's media library


def post_form(channels, **kwargs) -> PostForm:
    """A PostForm with a `target-<id>` sub-form for each channel offered."""

    class _PostForm(PostForm):
        pass

    for c in channels:
        sub = _extras_form(c.platform) if c.platform in PRIVACY_CHOICES else TargetForm
        setattr(_PostForm, f"target_{c.id}", FormField(sub, name=f"target-{c.id}", label=c.name))
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
            "scheduled_at": local(common), "asap": bool(post.targets) and common is None and not post.recurrence_rule,
            "recurrence_rule": post.recurrence_rule or "",
            "recurrence_until": utc_to_local(post.recurrence_until, zone).strftime("%Y-%m-%d")
            if post.recurrence_until else ""}
    for t in post.targets:
        extra = extra_of(t)
        data[f"target_{t.channel_id}"] = {
            "text": t.text or "", "scheduled_at": local(t.scheduled_at) if t.scheduled_at != common else "",
            "title": extra.get("title", ""), "description": extra.get("description", ""),
            "tags": ", ".join(extra.get("tags") or []), "privacy": extra.get("privacy") or "public"}
    return data


def read_extra(sub) -> dict | None:
    """The platform fields of one channel's sub-form, as the service stores them; None if it has none."""
    if not has_extras(sub):
        return None
    f = sub.form  # not sub.description: that is the FormField's own description
    return {"title": f.title.data or "", "description": f.description.data or "",
            "tags": split_tags(f.tags.data), "privacy": f.privacy.data or ""}


def read_post_input(form: PostForm, zone: ZoneInfo,
                    media: dict[int, list[int]] | None = None) -> tuple[PostInput, dict[str, list[str]]]:
    """Turn the form into the service's input; times that cannot be read come back as field errors.

    `media` gives each channel's files in order (see post_media); without it, targets keep theirs."""
    errors: dict[str, list[str]] = {}

    def parse(text, key):
        if not text:
            return None
        try:
            return parse_local(text, zone)
        except ValidationFailed as exc:
            errors.setdefault(key, []).append(exc.message)
            return None

    series = _read_recurrence(form, zone, errors)
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
        targets.append(TargetInput(channel_id, text or None, own or (None if asap else post_time),
                                   extra=read_extra(sub),
                                   media_ids=None if media is None else media.get(channel_id, [])))
    if series is not None and (form.scheduled_at.data or asap):
        errors.setdefault("scheduled_at", []).append(
            "A repeating post goes out at the times of its rule: leave the proposed time empty and untick "
            "'As soon as approved'.")
    elif needs_post_time and not asap and not form.scheduled_at.data and not form.recurrence_rule.data:
        errors.setdefault("scheduled_at", []).append(
            "Choose a proposed time, or tick 'As soon as approved' (or say below when it repeats).")
    return PostInput(body=form.body.data or "", link=form.link.data or None, targets=targets,
                     recurrence=series), errors


def _read_recurrence(form: PostForm, zone: ZoneInfo, errors: dict[str, list[str]]) -> RecurrenceInput | None:
    """'Repeat' and 'Repeat until' as the service takes them; until a date, through its last minute."""
    text = form.recurrence_rule.data
    until_text = form.recurrence_until.data
    if not text:
        if until_text:
            errors.setdefault("recurrence_rule", []).append("Say when it repeats, or leave 'Repeat until' empty.")
        return None
    try:
        recurrence.parse(text)
    except ValidationFailed as exc:
        errors.setdefault("recurrence_rule", []).append(exc.message)
        return None
    until = None
    if until_text:
        try:
            until = recurrence.end_of_day(datetime.strptime(until_text, "%Y-%m-%d").date(), zone)
        except ValueError:
            errors.setdefault("recurrence_until", []).append(f"'{until_text}' is not a date: write it as "
                                                             "YYYY-MM-DD, or leave it empty.")
    return RecurrenceInput(text, until)


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
    reason = StringField("Reason (optional)", id="withdraw-reason", filters=[_strip],
                         validators=[Optional(), Length(max=2000)])


class RetractForm(FlaskForm):
    reason = TextAreaField("Reason for the retraction", id="retract-reason", filters=[_strip], render_kw={"rows": 2},
                           validators=[DataRequired("Give the reason for the retraction: it goes on the record."),
                                       Length(max=2000)])


class ApproveForm(FlaskForm):
    expected_hash = HiddenField(validators=[DataRequired("The form did not say which version you read.")])
    comment = TextAreaField("Comment (optional)", id="approve-comment", filters=[_strip], render_kw={"rows": 2},
                            validators=[Optional(), Length(max=2000)])
    acknowledge_warnings = BooleanField("I have read the warnings")  # needed when the screening warns


class RejectForm(FlaskForm):
    expected_hash = HiddenField(validators=[DataRequired("The form did not say which version you read.")])
    comment = TextAreaField("Why it is rejected", id="reject-comment", filters=[_strip], render_kw={"rows": 3},
                            validators=[DataRequired("Say why it is rejected, so the author can put it right."),
                                        Length(max=2000)])
