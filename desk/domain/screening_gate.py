"""What the screening's findings require before a post may move on: plain Python, no database.

    gate = requirement(findings)
    gate.blocked               -> the post cannot be submitted (nor approved, nor published from a template)
    gate.needs_acknowledgement -> an approver must tick "I have read the warnings" to approve it

The services call these with the findings of the targets concerned and turn the answers into
refusals; the pages use the same answers to decide what to show (the tick box only when needed).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ValidationFailed
from .screening import Finding

ACKNOWLEDGE_FIELD = "acknowledge_warnings"


@dataclass(frozen=True)
class Requirement:
    blocking: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def blocked(self) -> bool:
        return bool(self.blocking)

    @property
    def needs_acknowledgement(self) -> bool:
        return bool(self.warnings)


def requirement(findings: Iterable[Finding]) -> Requirement:
    """Blocking findings stop the post; warnings need a person to say they have read them."""
    findings = tuple(findings)
    return Requirement(tuple(f for f in findings if f.blocking), tuple(f for f in findings if not f.blocking))


def describe(finding: Finding) -> str:
    """One finding in a sentence a person can act on: what matched, and why it matters."""
    return f"{finding.label}: “{finding.matched}”. {finding.why}"


def _quoted(findings: Iterable[Finding]) -> str:
    words = list(dict.fromkeys(f"“{f.matched}” ({f.label.lower()})" for f in findings))
    return ", ".join(words[:5]) + (f" and {len(words) - 5} more" if len(words) > 5 else "")


def submission_refusal(gate: Requirement) -> str | None:
    """Why a post with blocking findings cannot be submitted; None when nothing blocks it."""
    if not gate.blocked:
        return None
    return (f"The post cannot be submitted: the screening found {_quoted(gate.blocking)}, which may not be "
            "published. The draft is kept: take the words out (each is marked next to its text), then submit.")


def check_approval(gate: Requirement, acknowledged: bool) -> tuple[Finding, ...]:
    """The warnings the approver acknowledges by approving; raises when they may not approve yet."""
    if gate.blocked:
        raise ValidationFailed(
            f"This version cannot be approved: the screening now finds {_quoted(gate.blocking)}, which may not "
            "be published (the unit's screening policy may have changed since it was submitted). Reject it "
            "with a comment so the author can take the words out.")
    if gate.needs_acknowledgement and not acknowledged:
        message = (f"Nothing was approved: the screening warns about {_quoted(gate.warnings)}. Read the "
                   "warnings beside each channel's preview, then tick “I have read the warnings” to approve "
                   "(or reject the post with a comment).")
        raise ValidationFailed(message, field_errors={
            ACKNOWLEDGE_FIELD: ["Tick this to confirm you have read the warnings shown above."]})
    return gate.warnings if gate.needs_acknowledgement else ()
