"""The screening on the desk's pages: a unit's policy page, and the findings beside the words they are about.

The findings are computed where they are shown (`screening_of(post)`), from the unit's policy in the
database, so the author's form, the post's page and the approver's review always agree with what
the services will decide at submit and approve.
"""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..domain import limits
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import DeskError, ValidationFailed
from ..domain.screening import RULES, Finding, Policy, screen
from ..models import Channel, Post, Unit
from ..services import post_screening, screening_policy
from ..services.common import ensure, get_or_404
from .context import db

bp = Blueprint("screening", __name__)

LIST_HINTS = {
    "opsec_terms": "Operation names, call signs, places under watch: one per line. Any match blocks the post.",
    "opsec_patterns": "Regular expressions, one per line, matched without regard to case (e.g. \\bTango[- ]?\\d+\\b).",
    "allowed_link_domains": "Links to these domains (and their subdomains) raise no warning. One per line.",
    "allowed_email_domains": "E-mail addresses at these domains raise no warning. One per line.",
    "allowed_phone_numbers": "The force's public numbers (switchboards, 101, Crimestoppers). One per line.",
    "allowed_phrases": "Proper phrases that would otherwise read as offensive, such as a place name. One per line.",
}


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def policy_form(settings: dict, formdata=None) -> FlaskForm:
    """A select per rule and a text box per list; built per request because the rules are data."""

    class _PolicyForm(FlaskForm):
        pass

    for rule in RULES:
        setattr(_PolicyForm, f"severity_{rule}", SelectField(
            RULES[rule].label, choices=[SelectChoice(v, label) for v, label in screening_policy.severity_choices(rule)],
            name=f"severity-{rule}",
            default=settings["severities"].get(rule, "")))
    for name, label in screening_policy.LISTS.items():
        setattr(_PolicyForm, name, TextAreaField(label, description=LIST_HINTS[name], render_kw={"rows": 5},
                                                 default="\n".join(settings[name])))
    return _PolicyForm(formdata=formdata) if formdata is not None else _PolicyForm()


def _settings_from(form) -> dict:
    return {"severities": {rule: form[f"severity_{rule}"].data or "" for rule in RULES},
            **{name: _lines(form[name].data) for name in screening_policy.LISTS}}


@bp.route("/admin/screening")
@login_required
def units():
    """The units whose screening policy this person may change."""
    user = current_user._get_current_object()
    rows = [u for u in db().scalars(select(Unit).order_by(Unit.code)) if perm.can_manage_unit(user, u.id)]
    ensure(db(), bool(rows), user, "unit.screening_policy", "Only desk and unit administrators keep the screening "
           "policies.", object_type="unit")
    return render_template("screening/units.html", units=rows)


@bp.route("/admin/units/<int:unit_id>/screening", methods=["GET", "POST"])
@login_required
def policy(unit_id: int):
    """A unit's screening policy: severities, operational-security terms and patterns, allow lists."""
    user = current_user._get_current_object()
    unit = get_or_404(db(), Unit, unit_id, "unit")
    ensure(db(), perm.can_manage_unit(user, unit.id), user, "unit.screening_policy",
           "Only a desk administrator or the unit's administrator may see or change its screening policy.",
           object_type="unit", object_id=unit.id, unit_id=unit.id)
    try:
        current = screening_policy.settings_of(screening_policy.policy_of(unit))
    except ValidationFailed as exc:
        flash(exc.message, "error")
        current = screening_policy.default_settings()
    form = policy_form(current, request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate_on_submit():
        try:
            screening_policy.save_policy(db(), user, unit.id, _settings_from(form))
        except ValidationFailed as exc:
            for key, messages in exc.field_errors.items():
                target = form[key] if key in form else None
                errors = list(target.errors) if target is not None else form.form_errors
                errors.extend(messages)
                if target is not None:
                    target.errors = errors
            form.form_errors.append(exc.message)
            return render_template("screening/policy.html", unit=unit, form=form, rules=RULES), 400
        flash(f"The screening policy of {unit.code} is saved. It applies at once to every post to its channels.",
              "success")
        return redirect(url_for("screening.policy", unit_id=unit.id))
    status = 400 if request.method == "POST" else 200
    return render_template("screening/policy.html", unit=unit, form=form, rules=RULES), status


@bp.post("/screening/check")
@login_required
def check():
    """Screen the text being typed with the policies of the chosen channels' units (for the post form)."""
    user = current_user._get_current_object()
    ids = [n for n in map(limits.row_id, request.form.getlist("channel")) if n is not None][:50]
    channels = db().scalars(select(Channel).where(Channel.id.in_(ids))).all() if ids else []
    policies = {c.unit_id: c.unit for c in channels
                if perm.can_draft_for(user, c) or perm.roles_in(user, c.unit_id) or user.is_admin}
    try:
        chosen = [screening_policy.policy_of(unit) for unit in policies.values()] or [Policy()]
    except ValidationFailed as exc:
        return jsonify(error="policy", message=exc.message), 409
    text = request.form.get("text", "")[:20000]
    found: dict[tuple, Finding] = {}
    for policy in chosen:
        for f in screen(text, policy=policy, today=utcnow().date()):
            found.setdefault((f.rule, f.start, f.end), f)
    return jsonify(findings=[{**f.as_dict(), "label": f.label} for f in found.values()])


# ---- what the templates call ----------------------------------------------------------------------

@bp.app_template_global("screening_of")
def screening_of(post: Post | None):
    """The post's findings, once per request and version; None when a policy cannot be read (said on submit)."""
    if post is None or post.id is None:
        return None
    cache = g.setdefault("_screening", {})
    key = (post.id, post.content_hash, post.version)
    if key not in cache:
        try:
            cache[key] = post_screening.screen_post(post, utcnow())
        except DeskError:
            cache[key] = None
    return cache[key]


@bp.app_template_global("marked")
def marked(text: str, findings: list[Finding]) -> Markup:
    """The text with each finding's words in a <mark>, its reason in the title; everything else escaped."""
    out, pos = [], 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos or f.end > len(text) or text[f.start:f.end] != f.matched:
            continue
        out.append(escape(text[pos:f.start]))
        out.append(Markup('<mark class="finding finding-{}" title="{}">{}</mark>').format(
            f.severity, f"{f.label} ({'blocks' if f.blocking else 'warning'})", text[f.start:f.end]))
        pos = f.end
    out.append(escape(text[pos:]))
    return Markup("").join(out)
