"""Connecting platform accounts as channels: Connect, the platforms' callbacks, the Page picker, Reconnect.

Every step is a call to `services.connections`; the pages only choose the unit, send the browser to the
platform and back, and say what happened. A platform's redirect back has no useful referrer, so refusals
here lead to the Channels page rather than back where the person came from.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain.errors import DeskError, NotFound, PermissionDenied, ValidationFailed
from ..models import Channel
from ..services import connections
from ..services.common import get_or_404
from .admin import managed_units
from .admin_forms import choices, optional_id, show_refusal
from .context import db, platform_context, settings
from .posts import me

bp = Blueprint("connect", __name__)


class ConnectForm(FlaskForm):
    unit = SelectField("Unit", coerce=optional_id, validate_choice=False)


class ReconnectForm(FlaskForm):
    """Only the CSRF token: the channel is in the address."""


class PagesForm(FlaskForm):
    pages = SelectMultipleField("Pages to connect", validate_choice=False, widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())


def connect_options(user) -> list[dict]:
    """For the Channels page: per platform, a Connect form (with the units this person manages), or what
    to set before the platform can be connected. Empty for someone who manages no unit."""
    units = managed_units(user)
    if not units:
        return []
    missing = connections.not_configured(settings())
    options = []
    for platform in connections.connectable_platforms():
        form = ConnectForm(prefix=platform)
        form.unit.choices = choices(((u.id, f"{u.code} — {u.name}") for u in units),
                                    None if len(units) == 1 else "— choose a unit —")
        options.append({"platform": platform, "label": connections.label_of(platform), "form": form,
                        "not_configured": missing.get(platform)})
    return options


def _callback_url(platform: str) -> str:
    """The address the platform sends the administrator back to: it must be registered with the platform
    exactly, so behind a proxy DESK_PUBLIC_URL (e.g. https://desk.force.example) says what the world sees."""
    public = (settings().extra.get("platform_env") or {}).get("DESK_PUBLIC_URL", "").rstrip("/")
    if public:
        return public + url_for("connect.callback", platform=platform)
    return url_for("connect.callback", platform=platform, _external=True)


def _to_channels(message: str, category: str = "error"):
    flash(message, category)
    return redirect(url_for("channels.list_channels"))


@bp.post("/channels/connect/<platform>")
@login_required
def start(platform: str):
    """Send the administrator to the platform's consent page, for the unit they chose."""
    form = ConnectForm(prefix=platform)
    if not form.validate_on_submit() or form.unit.data is None:
        return _to_channels(f"Choose the unit the {connections.label_of(platform)} account will belong to, "
                            "then press Connect again.")
    try:
        url = connections.begin(db(), me(), platform, form.unit.data, _callback_url(platform), platform_context())
    except (PermissionDenied, NotFound):
        raise
    except DeskError as exc:
        db().rollback()
        return _to_channels(exc.message)
    return redirect(url)


def _callback_args() -> dict:
    """What the platform sent back. Some platforms append their own '?...' to a callback address that
    already carries the desk's state, so a state holding '?' is split back into its parts."""
    args = request.args.to_dict()
    state = args.get("state", "")
    if "?" in state:
        state, rest = state.split("?", 1)
        for part in rest.split("&"):
            name, _, value = part.partition("=")
            args.setdefault(name, value)
        args["state"] = state
    return args


@bp.get("/channels/connect/<platform>/callback")
@login_required
def callback(platform: str):
    """Where the platform sends the administrator back after its consent page."""
    args = _callback_args()
    state = args.pop("state", "")
    try:
        result = connections.complete(db(), me(), state, args, platform_context(), platform=platform)
    except PermissionDenied:
        raise
    except DeskError as exc:
        db().rollback()
        return _to_channels(exc.message)
    if result.choose_state:
        flash(result.message, "info")
        return redirect(url_for("connect.pages", state=result.choose_state))
    flash(result.message, "success")
    if len(result.channels) == 1:
        return redirect(url_for("channels.view_channel", channel_id=result.channels[0].id))
    return redirect(url_for("channels.list_channels"))


@bp.route("/channels/connect/pages/<state>", methods=["GET", "POST"])
@login_required
def pages(state: str):
    """Pick which of the Pages (accounts) the consent gave access to become channels."""
    try:
        choice = connections.pages_to_choose(db(), me(), state)
    except PermissionDenied:
        raise
    except DeskError as exc:
        db().rollback()
        return _to_channels(exc.message)
    form = PagesForm()
    form.pages.choices = [(a["id"], a["name"]) for a in choice.accounts]
    if form.validate_on_submit():
        try:
            result = connections.choose_pages(db(), me(), state, form.pages.data)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        except DeskError as exc:
            db().rollback()
            return _to_channels(exc.message)
        else:
            return _to_channels(result.message, "success")
    return render_template("channels/pick_pages.html", form=form, choice=choice)


@bp.post("/channels/<int:channel_id>/reconnect")
@login_required
def reconnect(channel_id: int):
    """Send the administrator to the platform's consent page to renew this channel's authorisation."""
    channel = get_or_404(db(), Channel, channel_id, "channel")
    if not ReconnectForm().validate_on_submit():
        return _to_channels("The form had expired: press Reconnect again.")
    try:
        url = connections.begin(db(), me(), channel.platform, channel.unit_id, _callback_url(channel.platform),
                                platform_context(), channel_id=channel.id)
    except (PermissionDenied, NotFound):
        raise
    except DeskError as exc:
        db().rollback()
        flash(exc.message, "error")
        return redirect(url_for("channels.view_channel", channel_id=channel_id))
    return redirect(url)

