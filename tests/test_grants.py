"""Access by business case: the rules on plain objects, then the use cases on both databases.

The grant tests use their own unit (TSG), whose policy is the default for new units: a role there gives
no access, only a live grant does. The shared World's units keep role-based access, as migrated units do.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from desk.domain import grants as rules
from desk.domain import permissions as perm
from desk.domain.errors import PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AccessGrant, AuditEvent
from desk.services import admin, grant_queries, grants, posts
from desk.services.grant_queries import GrantFilter
from desk.services.posts import PostInput, TargetInput

from conftest import OPERATOR, PASSWORD

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
CASE = "I post the road closure updates for the summer festival, for its three months."


# ---- the rules, on plain objects ---------------------------------------------------------------

@dataclass
class G:
    channel_id: int = 7
    role: str = "author"
    status: str = rules.APPROVED
    starts_at: datetime | None = T0
    expires_at: datetime | None = T0 + timedelta(days=30)
    revoked_at: datetime | None = None
    expiry_warned_at: datetime | None = None


@dataclass
class Person:
    id: int
    line_manager_id: int | None = None
    line_manager: object = None
    is_admin: bool = False
    is_auditor: bool = False
    roles: dict = field(default_factory=dict)
    access_grants: tuple = ()

    @property
    def roles_by_unit(self):
        return self.roles


def test_a_grant_is_live_from_its_start_until_just_before_its_end():
    g = G()
    assert not rules.is_live(g, T0 - timedelta(seconds=1))
    assert rules.is_live(g, T0)
    assert rules.is_live(g, g.expires_at - timedelta(microseconds=1))
    assert not rules.is_live(g, g.expires_at)  # stops on the day, at its time, without anyone acting
    assert rules.state(g, g.expires_at) == rules.EXPIRED and rules.has_expired(g, g.expires_at)
    assert not rules.is_live(G(revoked_at=T0 + timedelta(days=1)), T0 + timedelta(days=2))
    assert not rules.is_live(G(status=rules.PENDING, starts_at=None, expires_at=None), T0)
    assert not rules.is_live(G(status=rules.REVOKED), T0 + timedelta(days=1))


def test_holds_needs_the_same_channel_and_role():
    grants_ = [G(channel_id=7, role="author")]
    assert rules.holds(grants_, 7, "author", T0)
    assert not rules.holds(grants_, 7, "approver", T0)
    assert not rules.holds(grants_, 8, "author", T0)


def test_the_warning_is_due_14_days_before_and_only_once():
    g = G()
    due = g.expires_at - timedelta(days=14)
    assert not rules.warning_due(g, due - timedelta(seconds=1))
    assert rules.warning_due(g, due)
    g.expiry_warned_at = due
    assert not rules.warning_due(g, due + timedelta(days=1))
    assert not rules.warning_due(G(), G().expires_at)  # expired: no warning any more


def test_the_line_manager_decides_or_else_the_units_administrators_never_the_requester():
    manager = SimpleNamespace(active=True)
    assert rules.deciders(Person(1, line_manager_id=2, line_manager=manager), {3, 4}) == {2}
    assert rules.deciders(Person(1), {3, 1}) == {3}  # no line manager: the unit's administrators, not oneself
    gone = SimpleNamespace(active=False)
    assert rules.deciders(Person(1, line_manager_id=2, line_manager=gone), {3}) == {3}
    assert rules.deciders(Person(1), {1}) == set()


def test_who_could_post_during_a_period():
    day = (T0 + timedelta(days=5), T0 + timedelta(days=6))
    assert rules.was_live_during(G(), *day)
    assert not rules.was_live_during(G(status=rules.REVOKED, revoked_at=T0 + timedelta(days=5)), *day)
    assert rules.was_live_during(G(status=rules.REVOKED, revoked_at=T0 + timedelta(days=5, hours=1)), *day)
    assert not rules.was_live_during(G(expires_at=day[0]), *day)
    assert not rules.was_live_during(G(status=rules.REFUSED), *day)


@pytest.mark.parametrize("text, ok", [
    ("", False), ("because", False), ("need it for work please", True), ("x" * 40, False), (CASE, True)])
def test_a_business_case_is_a_real_sentence(text, ok):
    assert (rules.business_case_problems(text) == []) is ok


def test_permissions_need_a_live_grant_unless_the_units_policy_lets_roles_give_access():
    strict = SimpleNamespace(id=7, unit_id=1, status="active", unit=SimpleNamespace(roles_grant_access=False))
    open_ = SimpleNamespace(id=8, unit_id=2, status="active", unit=SimpleNamespace(roles_grant_access=True))
    member = Person(1, roles={1: {"author"}, 2: {"author"}})
    assert not perm.can_draft_for(member, strict, T0) and perm.can_draft_for(member, open_, T0)
    holder = Person(2, access_grants=(G(channel_id=7),))
    assert perm.can_draft_for(holder, strict, T0) and not perm.can_approve_for(holder, strict, T0)
    assert not perm.can_draft_for(holder, strict, G().expires_at)
    assert not perm.can_draft_for(Person(3), strict, T0)  # grants never loaded: refused, not allowed


def says(message: str, *facts: str) -> None:
    """A message a person reads is a sentence that carries the facts they need."""
    assert message[:1].isupper() and message.endswith("."), message
    for fact in facts:
        assert fact in message, (fact, message)


def test_a_live_grant_is_called_live_and_one_past_its_end_expired():
    g = G()
    assert rules.state(g, T0) == "live" and rules.STATE_LABELS[rules.state(g, T0)] == "Live"
    assert rules.state(g, g.expires_at) == rules.EXPIRED
    assert rules.state(G(status=rules.REVOKED), T0) == rules.REVOKED
    assert rules.state(G(status=rules.PENDING, starts_at=None, expires_at=None), T0) == rules.PENDING


def test_only_an_approved_grant_past_its_end_is_recorded_as_expired():
    g = G()
    assert not rules.has_expired(g, T0) and not rules.has_expired(g, g.expires_at - timedelta(seconds=1))
    assert rules.has_expired(g, g.expires_at)
    assert not rules.has_expired(G(status=rules.REVOKED), g.expires_at + timedelta(days=1))  # stays revoked
    assert not rules.has_expired(G(status=rules.PENDING, starts_at=None, expires_at=None), T0)


def test_a_one_day_grant_works_for_exactly_one_day():
    assert rules.period_problems(1, 90) == []
    one_day = G(expires_at=rules.expiry(T0, 1))
    assert one_day.expires_at == T0 + timedelta(days=1)
    assert rules.is_live(one_day, T0) and rules.is_live(one_day, T0 + timedelta(days=1, microseconds=-1))
    assert not rules.is_live(one_day, T0 + timedelta(days=1))
    assert rules.expiry(T0, 90) == T0 + timedelta(days=90)


def test_a_period_is_a_whole_number_of_days_from_one_to_the_units_maximum():
    assert rules.period_problems(90, 90) == []
    refusals = [rules.period_problems(days, 90) for days in (0, -1, 91, "30", 30.0, None)]
    assert len(refusals[0]) == 1 and refusals == [refusals[0]] * 6
    says(refusals[0][0], "1 to 90 days")


def test_a_business_case_of_exactly_the_minimum_length_is_accepted_and_one_character_less_is_not():
    exactly = "Cover the May fairs."  # four words
    assert len(exactly) == rules.MIN_BUSINESS_CASE and rules.business_case_problems(exactly) == []
    [problem] = rules.business_case_problems(exactly[:-1])
    says(problem, f"at least {rules.MIN_BUSINESS_CASE} characters", "for how long")
    assert rules.business_case_problems(f"  {exactly}  ") == []  # the spaces around it do not count


def test_a_business_case_needs_four_words_however_long():
    four = "Supervising Notting-Hill carnival coverage"
    assert len(four.split()) == rules.MIN_BUSINESS_CASE_WORDS and rules.business_case_problems(four) == []
    three = "Supervising Notting-Hill carnival-coverage"
    assert len(three) >= rules.MIN_BUSINESS_CASE and len(rules.business_case_problems(three)) == 1


def test_an_empty_business_case_is_asked_for_rather_than_called_too_short():
    [empty] = rules.business_case_problems(None)
    assert rules.business_case_problems("   ") == [empty]
    says(empty, "business case", "why", "for how long")
    assert rules.business_case_problems("Too short.") != [empty]


def test_who_could_post_on_a_day_counts_a_grant_from_its_first_moment_and_not_one_from_the_next_midnight():
    day = (datetime(2026, 6, 5, tzinfo=UTC), datetime(2026, 6, 6, tzinfo=UTC))
    assert not rules.was_live_during(G(starts_at=day[1], expires_at=day[1] + timedelta(days=1)), *day)
    assert rules.was_live_during(G(starts_at=day[0], expires_at=day[0] + timedelta(days=1)), *day)
    assert rules.was_live_during(G(starts_at=day[1] - timedelta(microseconds=1)), *day)
    assert not rules.was_live_during(G(starts_at=day[0] - timedelta(days=1), expires_at=day[0]), *day)
    assert rules.was_live_during(G(status=rules.EXPIRED, starts_at=day[0] - timedelta(days=1),
                                   expires_at=day[0] + timedelta(seconds=1)), *day)


def test_a_grant_without_both_its_start_and_its_end_never_counted():
    day = (T0, T0 + timedelta(days=1))
    assert not rules.was_live_during(G(starts_at=None), *day)
    assert not rules.was_live_during(G(expires_at=None), *day)
    assert not rules.was_live_during(G(status=rules.PENDING, starts_at=None, expires_at=None), *day)


def test_the_deciders_of_a_requester_whose_manager_was_not_loaded_are_their_line_manager():
    assert rules.deciders(SimpleNamespace(id=1, line_manager_id=2), {3}) == {2}
    assert rules.deciders(SimpleNamespace(id=1, line_manager_id=1), {3}) == set()  # never oneself


def test_the_holder_their_line_manager_the_units_and_the_desks_administrators_may_revoke_a_grant():
    grant = SimpleNamespace(user_id=1, user=SimpleNamespace(line_manager_id=2))
    unit_admins = [3]
    assert rules.may_revoke(Person(1), grant, unit_admins)  # the holder gives it up
    assert rules.may_revoke(Person(2), grant, unit_admins)
    assert rules.may_revoke(Person(3), grant, unit_admins)
    assert rules.may_revoke(Person(4, is_admin=True), grant, unit_admins)  # a desk administrator: any grant
    assert rules.may_revoke(Person(4, is_admin=True), grant, [])
    assert not rules.may_revoke(Person(5), grant, unit_admins)
    assert not rules.may_revoke(Person(5, is_auditor=True), grant, unit_admins)
    unmanaged = SimpleNamespace(user_id=1, user=SimpleNamespace(line_manager_id=None))
    assert not rules.may_revoke(Person(5), unmanaged, iter(unit_admins))
    assert rules.may_revoke(Person(3), unmanaged, iter(unit_admins))


# ---- the use cases, on both databases -----------------------------------------------------------

class GrantWorld:
    """The World's people, plus a unit whose channels need grants, and its administrator."""

    def __init__(self, world):
        s = self.session = world.session
        self.w = world
        self.unit = admin.create_unit(s, OPERATOR, "TSG", "Territorial Support Group", now=T0)
        self.channel = admin.create_channel(s, OPERATOR, self.unit.id, "training", "TSG feed", now=T0)
        self.unit_admin = admin.create_user(s, OPERATOR, "tsg.admin@desk.test", "Terry Admin", PASSWORD, now=T0)
        admin.add_membership(s, OPERATOR, self.unit_admin.id, self.unit.id, "unit_admin", now=T0)
        # A role in TSG gives nothing by itself here: the unit's policy is off, as for every new unit.
        admin.add_membership(s, OPERATOR, world.approver2.id, self.unit.id, "approver", now=T0)

    def ask(self, who, role="author", now=T0, **kw):
        return grants.request(self.session, who, self.channel.id, role, CASE, now=now, **kw)

    def granted(self, who, role="author", now=T0, **kw):
        asked = self.ask(who, role, now, **kw)
        decider = self.session.get(type(who), next(iter(grants.deciders_of(self.session, asked))))
        return grants.decide(self.session, decider, asked.id, True, "Agreed.", now=now)

    def draft(self, who, now):
        return posts.save_draft(self.session, who, PostInput(body="The A40 is open again.",
                                                             targets=[TargetInput(self.channel.id)]), now=now)


@pytest.fixture
def gw(world):
    return GrantWorld(world)


def actions(session, action):
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def test_a_request_goes_to_the_line_manager(gw):
    asked = gw.ask(gw.w.author)
    assert asked.status == rules.PENDING and asked.period_days == gw.unit.grant_period_days
    assert grants.deciders_of(gw.session, asked) == {gw.w.manager.id}
    assert [g.id for g in grant_queries.to_decide(gw.session, gw.w.manager)] == [asked.id]
    assert grant_queries.to_decide(gw.session, gw.unit_admin) == []
    assert actions(gw.session, "grant.requested") == 1


def test_without_a_line_manager_it_goes_to_the_units_administrators(gw):
    asked = gw.ask(gw.w.approver2, "approver")
    assert [g.id for g in grant_queries.to_decide(gw.session, gw.unit_admin)] == [asked.id]
    assert grant_queries.to_decide(gw.session, gw.w.manager) == []


def test_nobody_decides_their_own_request_and_strangers_are_refused(gw):
    s = gw.session
    asked = gw.ask(gw.w.author)
    for who, words in ((gw.w.author, "their own request"), (gw.w.approver, "line manager"),
                       (gw.unit_admin, "line manager")):
        with pytest.raises(PermissionDenied, match=words):
            grants.decide(s, who, asked.id, True, "Fine by me.", now=T0)
    assert actions(s, "access.refused") == 3
    assert s.get(AccessGrant, asked.id).status == rules.PENDING
    # A unit administrator without a line manager: their request goes to the unit's other administrators.
    with pytest.raises(ValidationFailed, match="Nobody can decide"):
        gw.ask(gw.unit_admin)


def test_refusing_needs_a_comment_and_a_decision_is_made_once(gw):
    s = gw.session
    asked = gw.ask(gw.w.author)
    with pytest.raises(ValidationFailed) as exc:
        grants.decide(s, gw.w.manager, asked.id, False, "  ", now=T0)
    assert "comment" in exc.value.field_errors
    refused = grants.decide(s, gw.w.manager, asked.id, False, "Use the DPA feed instead.", now=T0)
    assert refused.status == rules.REFUSED and refused.decider_id == gw.w.manager.id
    with pytest.raises(WorkflowConflict, match="already decided"):
        grants.decide(s, gw.w.manager, asked.id, True, None, now=T0)


def test_requests_are_checked_before_they_are_sent(gw):
    s = gw.session
    with pytest.raises(ValidationFailed) as exc:
        grants.request(s, gw.w.author, gw.channel.id, "owner", "because", period_days=9999, now=T0)
    assert set(exc.value.field_errors) == {"role", "business_case", "period_days"}
    gw.ask(gw.w.author, period_days=30)
    with pytest.raises(ValidationFailed, match="already asked"):
        gw.ask(gw.w.author)
    assert actions(s, "grant.requested") == 1


def test_a_grant_lets_its_holder_draft_until_it_expires_on_the_day(gw):
    s, author = gw.session, gw.w.author
    with pytest.raises(PermissionDenied, match="ask for access"):
        gw.draft(author, T0)  # a member of no TSG role, and no grant yet
    with pytest.raises(PermissionDenied):
        gw.draft(gw.w.approver2, T0)  # TSG's approver role gives nothing by itself: the policy is off
    grant = gw.granted(author, period_days=30)
    assert grant.starts_at == T0 and grant.expires_at == T0 + timedelta(days=30)
    assert gw.draft(author, T0 + timedelta(days=1)).post.id
    assert gw.draft(author, grant.expires_at - timedelta(seconds=1)).post.id
    with pytest.raises(PermissionDenied):
        gw.draft(author, grant.expires_at)  # nobody acted: the clock did
    assert actions(s, "grant.approved") == 1


def test_approving_for_a_channel_needs_an_approver_grant_too(gw):
    s, w = gw.session, gw.w
    gw.granted(w.author)
    post = gw.draft(w.author, T0).post
    posts.submit(s, w.author, post.id, now=T0)
    with pytest.raises(PermissionDenied):
        posts.approve(s, w.approver2, post.id, now=T0)  # the TSG approver role alone
    gw.granted(w.approver2, "approver")
    assert posts.approve(s, w.approver2, post.id, now=T0).status == "approved"


def test_a_units_policy_can_let_roles_give_access(gw):
    s, w = gw.session, gw.w
    with pytest.raises(PermissionDenied):
        grants.update_unit_policy(s, w.author, gw.unit.id, 90, True, now=T0)
    admin.add_membership(s, OPERATOR, w.outsider.id, gw.unit.id, "author", now=T0)
    grants.update_unit_policy(s, w.admin, gw.unit.id, 90, True, now=T0)
    assert gw.draft(w.outsider, T0).post.id
    assert actions(s, "unit.policy_updated") == 1
    with pytest.raises(ValidationFailed):
        gw.ask(w.author, period_days=91)  # the unit's new maximum


def test_the_worker_warns_once_14_days_before_and_records_the_expiry_on_its_day(gw):
    s, w = gw.session, gw.w
    grant = gw.granted(w.author, period_days=60)
    warn_at = grant.expires_at - rules.WARNING_BEFORE
    assert grants.expire_and_warn(s, warn_at - timedelta(minutes=1)) == (0, 0)
    assert grants.expire_and_warn(s, warn_at) == (0, 1)
    assert grants.expire_and_warn(s, warn_at + timedelta(days=1)) == (0, 0)
    assert actions(s, "grant.expiry_warned") == 1
    own, team = grant_queries.expiring_soon(s, w.author, warn_at)
    assert [g.id for g in own] == [grant.id] and grant_queries.expiring_soon(s, w.manager, warn_at)[1] == own
    assert grants.expire_and_warn(s, grant.expires_at - timedelta(seconds=1)) == (0, 0)
    assert grants.expire_and_warn(s, grant.expires_at) == (1, 0)
    assert grants.expire_and_warn(s, grant.expires_at + timedelta(days=1)) == (0, 0)
    s.expire_all()
    assert s.get(AccessGrant, grant.id).status == rules.EXPIRED and actions(s, "grant.expired") == 1
    assert grant_queries.expiring_soon(s, w.author, grant.expires_at) == ([], [])


def test_a_renewal_can_be_asked_for_in_the_last_14_days(gw):
    grant = gw.granted(gw.w.author, period_days=60)
    with pytest.raises(ValidationFailed, match="already hold"):
        gw.ask(gw.w.author, now=T0 + timedelta(days=1))
    renewal = gw.ask(gw.w.author, now=grant.expires_at - timedelta(days=10))
    assert renewal.status == rules.PENDING


def test_a_revoked_grant_stops_at_once_with_its_reason(gw):
    s, w = gw.session, gw.w
    grant = gw.granted(w.author)
    assert gw.draft(w.author, T0 + timedelta(hours=1)).post.id
    with pytest.raises(PermissionDenied):
        grants.revoke(s, w.approver, grant.id, "Not mine to revoke.", now=T0)
    with pytest.raises(ValidationFailed):
        grants.revoke(s, w.manager, grant.id, "", now=T0)
    revoked = grants.revoke(s, w.manager, grant.id, "Moved to another force.", now=T0 + timedelta(hours=2))
    assert revoked.status == rules.REVOKED and revoked.revoke_reason == "Moved to another force."
    with pytest.raises(PermissionDenied):
        gw.draft(w.author, T0 + timedelta(hours=2))
    with pytest.raises(WorkflowConflict):
        grants.revoke(s, w.manager, grant.id, "Again.", now=T0 + timedelta(hours=3))
    event = s.scalars(select(AuditEvent).where(AuditEvent.action == "grant.revoked")).one()
    assert "Moved to another force." in event.details and event.channel_id == gw.channel.id


def test_who_could_post_where_on_a_date_and_its_csv(gw):
    s, w = gw.session, gw.w
    live = gw.granted(w.author, period_days=30)                       # 1 June .. 1 July
    cut = gw.granted(w.approver2, "approver", period_days=30)
    grants.revoke(s, gw.unit_admin, cut.id, "Left the unit.", now=T0 + timedelta(days=3))
    refused = gw.ask(w.outsider)
    grants.decide(s, gw.unit_admin, refused.id, False, "No business need in TSG.", now=T0)  # outsider: no manager
    later = gw.granted(w.approver, now=T0 + timedelta(days=10), period_days=30)  # 11 June .. 11 July

    def on(day: int, **kw):
        since = T0.replace(hour=0) + timedelta(days=day)
        rows, total = grant_queries.search(s, GrantFilter(live_since=since, live_until=since + timedelta(days=1),
                                                          **kw), now=T0 + timedelta(days=40))
        assert total == len(rows)
        return {g.id for g in rows}

    assert on(2) == {live.id, cut.id}
    assert on(5) == {live.id}
    assert on(12) == {live.id, later.id}
    assert on(12, role="approver") == set()
    assert on(45) == set()
    assert {g.id for g in grant_queries.search(s, GrantFilter(state="revoked"))[0]} == {cut.id}

    out = io.StringIO()
    midnight = T0.replace(hour=0)
    f = GrantFilter(live_since=midnight + timedelta(days=2), live_until=midnight + timedelta(days=3))
    assert grant_queries.export_csv(s, w.auditor, f, out, now=T0 + timedelta(days=40)) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["email"] for r in rows} == {w.author.email, w.approver2.email}
    assert {r["state"] for r in rows} == {"expired", "revoked"}
    assert actions(s, "grants.exported") == 1
    with pytest.raises(PermissionDenied):
        grant_queries.export_csv(s, w.author, GrantFilter(), io.StringIO())


def test_a_desk_administrator_may_revoke_any_grant(gw):
    s, w = gw.session, gw.w
    grant = gw.granted(w.author)  # Ada Admin is neither Pat's line manager nor a TSG administrator
    revoked = grants.revoke(s, w.admin, grant.id, "Suspended pending an investigation.", now=T0 + timedelta(hours=1))
    assert revoked.status == rules.REVOKED and revoked.revoked_by_id == w.admin.id
    with pytest.raises(PermissionDenied):
        gw.draft(w.author, T0 + timedelta(hours=2))


def test_who_could_post_on_a_day_starts_at_its_midnight_and_stops_at_the_next(gw):
    s, w = gw.session, gw.w
    d = T0.replace(hour=0) + timedelta(days=3)
    from_next_midnight = gw.granted(w.author, now=d + timedelta(days=1))
    from_its_midnight = gw.granted(w.approver2, "approver", now=d)
    one_day_before = gw.granted(w.approver, now=d - timedelta(days=1), period_days=1)  # ends at d's midnight

    def on(day):
        rows, total = grant_queries.search(s, GrantFilter(live_since=day, live_until=day + timedelta(days=1)),
                                           now=T0 + timedelta(days=40))
        assert total == len(rows)
        return {g.id for g in rows}

    assert on(d) == {from_its_midnight.id}
    assert on(d + timedelta(days=1)) == {from_its_midnight.id, from_next_midnight.id}
    assert on(d - timedelta(days=1)) == {one_day_before.id}


def test_csv_cells_never_start_a_formula(gw):
    s = gw.session
    grants.request(s, gw.w.author, gw.channel.id, "author", "=HYPERLINK(\"http://x\") I need this for the festival",
                   now=T0)
    out = io.StringIO()
    grant_queries.export_csv(s, gw.w.admin, GrantFilter(), out, now=T0)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["business_case"].startswith("'=")


def test_a_grant_holder_uses_the_granted_units_media_library(gw, tmp_path):
    from desk.services import media
    from desk.services.grants import load_access

    from media_samples import png

    s, author = gw.session, gw.w.author
    when = datetime.now(UTC)
    with pytest.raises(PermissionDenied):  # no TSG role and no grant: not TSG's library
        media.store_upload(s, load_access(s, author), gw.unit.id, "map.png", png(), str(tmp_path), now=when)
    gw.granted(author, now=when - timedelta(minutes=1), period_days=30)
    photo = media.store_upload(s, load_access(s, author), gw.unit.id, "map.png", png(), str(tmp_path), now=when)
    data = PostInput(body="The A40 is open again.", targets=[TargetInput(gw.channel.id, media_ids=[photo.id])])
    draft = posts.save_draft(s, load_access(s, author), data, now=when)
    assert [link.media_id for link in draft.post.targets[0].media_links] == [photo.id]
