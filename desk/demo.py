"""Demo data: two units, the people of a press office, two training channels and two example posts.

Made through the same services as everything else, so the demo's audit trail is a real one. It goes
only into a desk without users: it never touches real data.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .domain.clock import utcnow
from .domain.errors import ValidationFailed
from .domain.timezones import local_to_utc
from .models import User
from .services import admin, grants, posts, templates
from .services.posts import PostInput, TargetInput

PASSWORD = "demo-password-1"  # demo only: printed by `make run`, never used outside demo data


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    who: str  # what `make run` prints next to the sign-in
    manager: str | None = None
    is_admin: bool = False
    is_auditor: bool = False
    roles: tuple[tuple[str, str], ...] = ()  # (unit code, role)


UNITS = (("DPA", "Directorate of Public Affairs"), ("CO11", "Public Order"))

# Managers come before the people they manage: a line manager must exist first.
PEOPLE = (
    Person("admin@desk.example", "Dana Admin", "desk administrator", is_admin=True),
    Person("head@desk.example", "Harriet Head-of-News", "approver, DPA and CO11 (the second key)",
           roles=(("DPA", "approver"), ("CO11", "approver"))),
    Person("approver@desk.example", "Sam Senior", "approver, DPA", manager="head@desk.example",
           roles=(("DPA", "approver"),)),
    Person("press@desk.example", "Pat Press", "press officer (author), DPA", manager="approver@desk.example",
           roles=(("DPA", "author"),)),
    Person("co11.lead@desk.example", "Chris Inspector", "approver and unit administrator, CO11",
           manager="head@desk.example", roles=(("CO11", "approver"), ("CO11", "unit_admin"))),
    Person("co11@desk.example", "Jo Constable", "author, CO11", manager="co11.lead@desk.example",
           roles=(("CO11", "author"),)),
    Person("auditor@desk.example", "Alex Auditor", "auditor", manager="admin@desk.example", is_auditor=True),
)

# (unit code, name, approvals required)
CHANNELS = (("DPA", "DPA training feed", 1), ("CO11", "CO11 event feed (training)", 2))


def has_users(session: Session) -> bool:
    return bool(session.scalar(select(func.count(User.id))))


def has_demo_users(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.email == PEOPLE[0].email)) is not None


def sign_ins() -> list[tuple[str, str]]:
    return [(p.email, p.who) for p in PEOPLE]


def _tomorrow_at(hour: int, zone, now: datetime) -> datetime:
    day = now.astimezone(zone).date() + timedelta(days=1)
    return local_to_utc(datetime.combine(day, time(hour, 0)), zone)


def load(session: Session, operator, zone, now: datetime | None = None) -> dict[str, int]:
    """Load the demo into an empty desk; refuse, changing nothing, when it already has users."""
    now = now or utcnow()
    if has_users(session):
        raise ValidationFailed("The desk already has users, so the demo data was not loaded: it goes only "
                               "into an empty database. Nothing was changed.")
    units = {code: admin.create_unit(session, operator, code, name, now=now) for code, name in UNITS}
    users = {}
    for p in PEOPLE:
        users[p.email] = admin.create_user(session, operator, p.email, p.name, PASSWORD, is_admin=p.is_admin,
                                           is_auditor=p.is_auditor, line_manager_email=p.manager, now=now)
        for code, role in p.roles:
            admin.add_membership(session, operator, users[p.email].id, units[code].id, role, now=now)
    channels = {name: admin.create_channel(session, operator, units[code].id, "training", name,
                                           approvals_required=required, now=now)
                for code, name, required in CHANNELS}
    granted = _access(session, operator, units, users, channels["CO11 event feed (training)"], now)
    made = _road_closure_template(session, users, channels["CO11 event feed (training)"], now)

    press = users["press@desk.example"]
    session.refresh(press)
    feed = channels["DPA training feed"].id
    posts.save_draft(session, press, PostInput(
        body="Officers will be at Ealing Broadway station on Saturday from 10am to talk about bike security. "
             "Bring your bike and we will mark it for free.",
        targets=[TargetInput(feed)]), now=now)
    review = posts.save_draft(session, press, PostInput(
        body="The A40 Western Avenue will be closed eastbound overnight for resurfacing. "
             "Please plan ahead and use the A406.",
        link="https://www.example.org/roadworks",
        targets=[TargetInput(feed, scheduled_at=_tomorrow_at(10, zone, now))]), now=now).post
    posts.submit(session, press, review.id, now=now)
    return {"units": len(units), "users": len(users), "channels": len(channels), "posts": 2, "grants": granted,
            "templates": made}


# Business cases of the demo's CO11 staff: CO11 gives access by grant only, DPA by role (as migrated units).
CO11_GRANTS = (
    ("co11@desk.example", "author", "I post the operational updates for the protest camp policing operation "
                                    "from the command room, for its three months."),
    ("co11.lead@desk.example", "approver", "I am the operation's duty inspector and approve its public "
                                           "updates while it lasts."),
    ("head@desk.example", "approver", "As head of news I am the second key on CO11's event feed during the "
                                      "operation."),
)


def _access(session: Session, operator, units, users, feed, now: datetime) -> int:
    """DPA keeps access by role; CO11 needs business cases: three live grants, and one request waiting."""
    grants.update_unit_policy(session, operator, units["DPA"].id, units["DPA"].grant_period_days, True, now=now)
    admin.update_channel(session, operator, feed.id, is_event_feed=True, operation_name="Operation Meadow",
                         live_from=now - timedelta(hours=1), live_until=now + timedelta(days=90), now=now)
    for email, role, case in CO11_GRANTS:
        asked = grants.request(session, users[email], feed.id, role, case, period_days=120, now=now)
        decider = next(iter(grants.deciders_of(session, asked)))
        grants.decide(session, session.get(User, decider), asked.id, True, "Agreed for the operation.", now=now)
    grants.request(session, users["press@desk.example"], feed.id, "author",
                   "I cover CO11's press office when its officer is on leave during the operation.", now=now)
    return len(CO11_GRANTS)


def _road_closure_template(session: Session, users, feed, now: datetime) -> int:
    """CO11's road-closure update: written by the head of news, approved by the duty inspector (four-eyes),
    so that Jo Constable can post it during the operation without waiting for a second approval. Every field
    is typed (roads, directions and advice from lists, a time): the common update carries no free text, so
    nothing typed into it can draw a screening warning and send it to an approver."""
    fields = [
        {"name": "road", "label": "Road", "type": "choice",
         "choices": ["A40 Western Avenue", "Marylebone Road", "Euston Road", "Park Lane"]},
        {"name": "direction", "label": "Direction", "type": "choice",
         "choices": ["eastbound", "westbound", "in both directions"]},
        {"name": "until", "label": "Until", "type": "time"},
        {"name": "advice", "label": "Advice", "type": "choice",
         "choices": ["Use Edgware Road instead.", "Use the A406 North Circular instead.",
                     "Please avoid the area and allow extra time.", "Buses are on diversion."]},
    ]
    made = templates.create_template(session, users["head@desk.example"], feed.unit_id, templates.TemplateInput(
        "Road closure update", "Operation Meadow: {road} is closed {direction} until about {until}. {advice} "
        "We will post again when it reopens.", fields, [feed.id]), now=now)
    templates.approve_template(session, users["co11.lead@desk.example"], made.id, expected_hash=made.content_hash,
                               now=now)
    return 1
