"""What the screening of an update filled in from a template requires. Plain Python, no database.

A template's approval vouches for the words its approver read: the template's own text and its choice
lists, with any warning in them that the approver acknowledged ("I have read the warnings"). It cannot
vouch for what someone types into a field when posting. So, of the findings in the filled-in text:

- a **blocking** finding refuses the update, wherever it is;
- a warning in the template's own words (its text, or a value chosen from one of its lists) that the
  template's approver acknowledged is **covered**: the update goes out on the template's approval;
- every other warning is **unread**: in a typed-in value (text, a time, a number), made by a value and the
  words around it together, or in the template's own words but not read by its approver (the unit's
  screening policy changed after the approval). The update then goes to an approver like any post.

    decision = decide(findings, rendered, specs, acknowledged)
    decision.needs_approver -> submitted for approval, not approved by the template
    refuse(decision, specs, send_to_approver) -> raises when it may not be made as asked
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import post_templates as templates
from .errors import ValidationFailed
from .screening import Finding
from .screening_gate import ACKNOWLEDGE_FIELD, describe

OWN_WORDS = "the template's own words"
SEND_LABEL = "Send it to an approver"


def _key(rule: str, matched: str) -> tuple[str, str]:
    return rule, " ".join(str(matched).split()).casefold()


@dataclass(frozen=True)
class Decision:
    blocking: tuple[Finding, ...]
    covered: tuple[Finding, ...]
    unread: tuple[Finding, ...]
    places: Mapping[Finding, tuple[str | None, str]] = field(default_factory=dict)  # (field, where in words)

    @property
    def needs_approver(self) -> bool:
        return bool(self.unread)

    def field_of(self, finding: Finding) -> str | None:
        return self.places.get(finding, (None, OWN_WORDS))[0]

    def where(self, finding: Finding) -> str:
        return self.places.get(finding, (None, OWN_WORDS))[1]

    def reasons(self) -> list[dict]:
        """The unread warnings as the audit trail keeps them: the finding, its field and where it is."""
        return [{**f.as_dict(), "label": f.label, "field": self.field_of(f), "where": self.where(f)}
                for f in self.unread]


def decide(findings: Iterable[Finding], rendered: templates.Rendered, specs: Iterable[templates.FieldSpec],
           acknowledged: Iterable[Mapping]) -> Decision:
    """Sort the findings of the filled-in text; `acknowledged` are the warnings (dicts with `rule` and
    `matched`) its approver acknowledged when approving this version of the template."""
    by_name = {s.name: s for s in specs}
    read = {_key(a.get("rule", ""), a.get("matched", "")) for a in acknowledged}
    blocking, covered, unread, places = [], [], [], {}
    for f in findings:
        names = templates.fields_at(rendered, f.start, f.end)
        chosen = all(by_name[n].type == templates.CHOICE for n in names if n in by_name)
        first = by_name.get(names[0]) if names else None
        if first is None:
            places[f] = (None, OWN_WORDS)
        else:
            places[f] = (first.name, f"{first.label} ({'chosen from the list' if chosen else 'typed in'})")
        if f.blocking:
            blocking.append(f)
        elif chosen and _key(f.rule, f.matched) in read:
            covered.append(f)
        else:
            unread.append(f)
    return Decision(tuple(blocking), tuple(covered), tuple(unread), places)


def _words(decision: Decision, findings: Iterable[Finding]) -> str:
    return ", ".join(dict.fromkeys(f"“{f.matched}” ({f.label.lower()}) in {decision.where(f)}" for f in findings))


def _errors(decision: Decision, findings: Iterable[Finding]) -> dict[str, list[str]]:
    """Each finding next to the field its words are in; those in the template's own words above the form."""
    errors: dict[str, list[str]] = {}
    for f in findings:
        name = decision.field_of(f)
        errors.setdefault(f"values.{name}" if name else "body", []).append(describe(f))
    return errors


def refuse(decision: Decision, send_to_approver: bool) -> None:
    """Raises when the update may not be made as asked: something blocks it, or it needs an approver and the
    person has not yet said to send it to one (nothing is made before they choose)."""
    if decision.blocking:
        where = sorted({decision.where(f).split(" (")[0] for f in decision.blocking})
        words = ", ".join(dict.fromkeys(f"“{f.matched}” ({f.label.lower()})" for f in decision.blocking))
        raise ValidationFailed(f"Nothing was published: the screening found {words} in {', '.join(where)}, "
                               "which may not be published. Change the value and post again.",
                               field_errors=_errors(decision, decision.blocking))
    if decision.needs_approver and not send_to_approver:
        message = (f"Not posted yet: the screening warns about {_words(decision, decision.unread)}. The template's "
                   "approval covers its own words, not what is typed into it, so this update needs an approver, "
                   f"like any post. Change the value to post it at once, or tick “{SEND_LABEL}”.")
        if any(decision.field_of(f) is None for f in decision.unread):
            message += (" The template's own words now draw a warning its approver did not read (the unit's "
                        "screening policy changed after the approval): ask an approver to look at the template.")
        errors = _errors(decision, decision.unread)
        errors[ACKNOWLEDGE_FIELD] = ["Tick this to send the update to an approver, or change the value marked."]
        raise ValidationFailed(message, field_errors=errors)


def approval_reason(decision: Decision) -> str:
    """Why the update went out on the template's approval, or was sent to an approver: for the trail."""
    if decision.needs_approver:
        return ("The screening warned about " + _words(decision, decision.unread) + ". The template's approval "
                "covers its own words as its approver read them and does not cover what was typed into it, so "
                "the update was sent to an approver like any post.")
    if decision.covered:
        return ("The template's approval covers this update: its only warnings are in the template's own words, "
                "which its approver read.")
    return "The template's approval covers this update: nothing in it drew a screening warning."
