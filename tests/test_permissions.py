"""Who may do what, decided from roles per unit and access grants, tested with plain objects."""
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from desk.domain import grants
from desk.domain import permissions as perm
from desk.domain.errors import PermissionDenied


@dataclass
class U:
    id: int
    roles: dict = field(default_factory=dict)
    is_admin: bool = False
    is_auditor: bool = False
    access_grants: tuple = ()

    @property
    def roles_by_unit(self):
        return self.roles


@dataclass
class C:
    id: int
    unit_id: int
    status: str = "active"
    # These role-based rules hold where the unit's policy lets roles grant access (tests/test_grants.py: grants).
    unit: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(roles_grant_access=True))


@dataclass
class T:
    channel: C

    @property
    def channel_id(self):
        return self.channel.id


@dataclass
class P:
    author_id: int
    targets: list


DPA, CO11 = 1, 2
dpa_feed, co11_feed = C(10, DPA), C(20, CO11)
author = U(1, {DPA: {"author"}})
approver = U(2, {DPA: {"approver", "author"}})
co11_approver = U(3, {CO11: {"approver"}})
admin = U(4, is_admin=True)
auditor = U(5, is_auditor=True)
unit_admin = U(6, {DPA: {"unit_admin"}})
post = P(author.id, [T(dpa_feed)])
joint = P(author.id, [T(dpa_feed), T(co11_feed)])


def test_drafting_needs_the_author_role_in_the_channels_unit():
    assert perm.can_draft_for(author, dpa_feed)
    assert not perm.can_draft_for(author, co11_feed)
    assert not perm.can_draft_for(admin, dpa_feed)  # administering is not drafting
    assert perm.draftable_channels(approver, [dpa_feed, co11_feed, C(11, DPA, "archived")]) == [dpa_feed]


def test_approving_needs_the_approver_role_and_never_ones_own_post():
    assert perm.can_approve_post(approver, post)
    assert not perm.can_approve_post(author, post)
    own = P(approver.id, [T(dpa_feed)])
    assert not perm.can_approve_post(approver, own)  # four-eyes even for an approver
    assert perm.approvable_channel_ids(approver, own) == set()
    assert not perm.can_approve_post(co11_approver, post)
    assert not perm.can_approve_post(admin, post)


def test_approval_scope_is_per_unit():
    assert perm.approvable_channel_ids(approver, joint) == {10}
    assert perm.approvable_channel_ids(co11_approver, joint) == {20}


def test_viewing_editing_withdrawing_retracting():
    assert perm.can_view_post(author, post) and perm.can_view_post(approver, post)
    assert perm.can_view_post(admin, post) and perm.can_view_post(auditor, post)
    assert not perm.can_view_post(co11_approver, post)
    assert perm.can_edit_post(author, post) and not perm.can_edit_post(approver, post)
    assert perm.can_withdraw(author, post) and perm.can_withdraw(approver, post)
    assert not perm.can_withdraw(co11_approver, post)
    assert perm.can_retract(approver, post) and not perm.can_retract(author, post)


def test_administration_and_audit():
    assert perm.can_administer(admin) and not perm.can_administer(unit_admin)
    assert perm.can_manage_unit(unit_admin, DPA) and not perm.can_manage_unit(unit_admin, CO11)
    assert perm.can_manage_unit(admin, CO11)
    assert perm.can_read_audit(auditor) and perm.can_read_audit(admin)
    assert not perm.can_read_audit(approver)


# ---- access grants: a unit whose policy gives roles no access, only live grants do ------------------

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TSG, CTU = 3, 4
strict = SimpleNamespace(roles_grant_access=False)
tsg_a, tsg_b, ctu_feed = C(30, TSG, unit=strict), C(31, TSG, unit=strict), C(40, CTU, unit=strict)
tsg_member = U(8, {TSG: {"author", "approver"}})  # roles in TSG give nothing there: its policy is off


def grant(channel, role="author", starts=T0, days=30, status=grants.APPROVED, revoked_at=None):
    return grants.GrantView(id=channel.id * 10, channel_id=channel.id, role=role, status=status, starts_at=starts,
                            expires_at=starts + timedelta(days=days), revoked_at=revoked_at,
                            unit_id=channel.unit_id)


def holder(*held, uid=7, roles=None):
    return U(uid, roles or {}, access_grants=tuple(held))


def to(*channels, author_id=author.id):
    return P(author_id, [T(c) for c in channels])


def test_a_live_grant_shows_its_holder_the_posts_to_its_channel_and_no_other():
    h = holder(grant(tsg_a))
    assert perm.can_view_post(h, to(tsg_a), T0)
    assert perm.can_view_post(h, to(tsg_b, tsg_a), T0)  # a joint post that also goes to the granted channel
    assert not perm.can_view_post(h, to(tsg_b), T0)      # the same unit, another channel
    assert not perm.can_view_post(h, to(ctu_feed), T0)   # one live grant never shows the rest of the desk
    assert not perm.can_view_post(holder(grant(tsg_b)), to(tsg_a), T0)


def test_a_grant_shows_nothing_before_it_starts_after_it_ends_or_once_revoked():
    g = grant(tsg_a)
    assert not perm.can_view_post(holder(g), to(tsg_a), T0 - timedelta(seconds=1))
    assert perm.can_view_post(holder(g), to(tsg_a), g.expires_at - timedelta(seconds=1))
    assert not perm.can_view_post(holder(g), to(tsg_a), g.expires_at)
    revoked = grant(tsg_a, status=grants.APPROVED, revoked_at=T0 - timedelta(hours=1))
    assert not perm.can_view_post(holder(revoked), to(tsg_a), T0)
    assert not perm.can_view_post(holder(grant(tsg_a, status=grants.PENDING)), to(tsg_a), T0)


def test_a_grant_only_viewer_is_answered_when_no_time_is_given():
    now = datetime.now(UTC)
    live, ended = grant(tsg_a, starts=now - timedelta(days=1)), grant(tsg_a, starts=now - timedelta(days=40))
    assert perm.can_view_post(holder(live), to(tsg_a))
    assert not perm.can_view_post(holder(ended), to(tsg_a))
    assert perm.can_draft_for(holder(live), tsg_a) and not perm.can_draft_for(holder(ended), tsg_a)
    assert perm.granted_channel_ids(holder(live), "author") == {tsg_a.id}
    assert perm.media_unit_ids(holder(live)) == {TSG} and perm.media_unit_ids(holder(ended)) == set()


def test_a_person_sees_their_own_posts_their_units_posts_and_admins_and_auditors_see_all():
    stranger = U(99)
    assert perm.can_view_post(stranger, to(ctu_feed, author_id=99), T0)  # their own, with no role anywhere
    assert not perm.can_view_post(stranger, to(ctu_feed), T0)
    assert perm.can_view_post(co11_approver, joint, T0)  # a role in one unit of a joint post is enough
    assert not perm.can_view_post(U(98, {TSG: {"author"}}), to(ctu_feed), T0)
    assert perm.can_view_post(U(97, is_admin=True), to(ctu_feed), T0)
    assert perm.can_view_post(U(96, is_auditor=True), to(ctu_feed), T0)


def test_where_roles_give_no_access_only_a_live_grant_for_that_channel_and_role_does():
    assert not perm.can_draft_for(tsg_member, tsg_a, T0) and not perm.can_approve_for(tsg_member, tsg_a, T0)
    author_grant = holder(grant(tsg_a, "author"))
    assert perm.can_draft_for(author_grant, tsg_a, T0) and not perm.can_approve_for(author_grant, tsg_a, T0)
    assert not perm.can_draft_for(author_grant, tsg_b, T0)
    approver_grant = holder(grant(tsg_a, "approver"))
    assert perm.can_approve_for(approver_grant, tsg_a, T0) and not perm.can_draft_for(approver_grant, tsg_a, T0)
    assert not perm.can_draft_for(author_grant, tsg_a, T0 + timedelta(days=30))
    # A grant works where roles do too: an outsider holding one for a role-based unit's channel.
    assert perm.can_draft_for(holder(grant(co11_feed)), co11_feed, T0)


def test_the_channels_a_person_holds_a_live_grant_for_in_each_role():
    h = holder(grant(tsg_a, "author"), grant(tsg_b, "approver"), grant(ctu_feed, "author", days=1))
    assert perm.granted_channel_ids(h, "author", T0) == {tsg_a.id, ctu_feed.id}
    assert perm.granted_channel_ids(h, "approver", T0) == {tsg_b.id}
    assert perm.granted_channel_ids(h, "author", T0 + timedelta(days=1)) == {tsg_a.id}
    assert perm.granted_channel_ids(U(99), "author", T0) == set()  # grants never loaded: none


def test_a_grant_holder_may_use_the_media_library_of_the_granted_channels_unit():
    h = holder(grant(tsg_a), grant(ctu_feed, starts=T0 + timedelta(days=1)), roles={DPA: {"author"}})
    assert perm.media_unit_ids(h, T0) == {DPA, TSG}
    assert perm.can_use_media_of(h, TSG, T0) and perm.can_use_media_of(h, DPA, T0)
    assert not perm.can_use_media_of(h, CTU, T0)
    assert perm.can_use_media_of(h, CTU, T0 + timedelta(days=1))
    assert not perm.can_use_media_of(h, TSG, T0 + timedelta(days=30))
    assert perm.can_use_media_of(admin, CTU, T0)  # desk administrators: every library


def test_a_grant_holder_approves_only_the_granted_channels_of_a_post_and_never_their_own():
    h = holder(grant(tsg_a, "approver"))
    post_ab = to(tsg_a, tsg_b)
    assert perm.approvable_channel_ids(h, post_ab, T0) == {tsg_a.id}
    assert perm.can_approve_post(h, post_ab, T0)
    assert not perm.can_approve_post(h, to(tsg_b), T0)
    assert perm.approvable_channel_ids(h, to(tsg_a, author_id=h.id), T0) == set()
    assert not perm.can_approve_post(h, to(tsg_a), T0 + timedelta(days=30))


def test_withdrawing_is_for_the_author_or_an_approver_and_retracting_for_an_approver():
    h = holder(grant(tsg_a, "approver"))
    assert perm.can_withdraw(h, to(tsg_a), T0) and perm.can_retract(h, to(tsg_b, tsg_a), T0)
    assert not perm.can_withdraw(h, to(tsg_b), T0) and not perm.can_retract(h, to(tsg_b), T0)
    assert perm.can_withdraw(U(99), to(tsg_b, author_id=99), T0)  # the author, without any access now
    assert not perm.can_retract(U(99), to(tsg_b, author_id=99), T0)


def test_a_template_is_written_by_an_approver_of_every_channel_and_used_by_an_author_of_every_channel():
    assert perm.can_write_template(approver, [dpa_feed], T0)
    assert not perm.can_write_template(approver, [dpa_feed, co11_feed], T0)
    assert not perm.can_write_template(approver, [], T0)  # a template for no channel: nobody
    assert perm.can_write_template(approver, iter([dpa_feed]), T0)
    assert perm.can_publish_template(author, [dpa_feed], T0)
    assert perm.can_publish_template(author, (c for c in [dpa_feed]), T0)
    assert not perm.can_publish_template(author, [dpa_feed, co11_feed], T0)
    assert not perm.can_publish_template(author, [], T0)
    assert not perm.can_publish_template(co11_approver, [co11_feed], T0)  # approving is not drafting
    assert perm.can_publish_template(holder(grant(tsg_a)), [tsg_a], T0)


def test_templates_and_the_drafting_list_judge_grants_at_the_time_given():
    author_h, approver_h = holder(grant(tsg_a, "author")), holder(grant(tsg_a, "approver"))

    def answers(when):
        return (perm.can_write_template(approver_h, [tsg_a], when),
                perm.can_suspend_template(approver_h, TSG, [tsg_a], when),
                perm.can_publish_template(author_h, [tsg_a], when),
                perm.draftable_channels(author_h, [tsg_a, tsg_b], when))

    assert answers(T0) == (True, True, True, [tsg_a])
    assert answers(T0 + timedelta(days=30)) == (False, False, False, [])


def test_a_person_whose_grants_were_never_loaded_is_refused_not_failed():
    worker_like = SimpleNamespace(id=50, is_admin=False, is_auditor=False, roles_by_unit={})
    assert perm.access_grants(worker_like) == ()
    assert not perm.can_draft_for(worker_like, tsg_a, T0) and not perm.can_view_post(worker_like, to(tsg_a), T0)


def test_any_approver_of_one_of_its_channels_or_its_units_administrators_may_suspend_a_template():
    assert perm.can_suspend_template(co11_approver, DPA, [dpa_feed, co11_feed], T0)
    assert not perm.can_suspend_template(co11_approver, DPA, [dpa_feed], T0)
    assert perm.can_suspend_template(unit_admin, DPA, [co11_feed], T0)
    assert not perm.can_suspend_template(unit_admin, CO11, [co11_feed], T0)
    assert perm.can_suspend_template(admin, CO11, [], T0)
    assert not perm.can_suspend_template(author, DPA, [dpa_feed], T0)


def test_the_emergency_stop_desk_wide_is_for_desk_administrators_and_a_units_for_its_administrators():
    assert perm.can_pause(admin, None) and perm.can_pause(admin, CO11)
    assert not perm.can_pause(unit_admin, None)
    assert perm.can_pause(unit_admin, DPA) and not perm.can_pause(unit_admin, CO11)
    assert not perm.can_pause(approver, DPA) and not perm.can_pause(approver, None)


def test_a_stuck_post_is_settled_by_its_channels_approvers_or_the_units_or_the_desks_administrators():
    assert perm.can_decide_on_target(approver, dpa_feed, T0)
    assert perm.can_decide_on_target(unit_admin, dpa_feed, T0)
    assert perm.can_decide_on_target(admin, co11_feed, T0)
    assert perm.can_decide_on_target(holder(grant(tsg_a, "approver")), tsg_a, T0)
    assert not perm.can_decide_on_target(author, dpa_feed, T0)
    assert not perm.can_decide_on_target(unit_admin, co11_feed, T0)


def test_only_desk_administrators_and_auditors_read_the_audit_trail():
    assert perm.can_read_audit(U(99, is_auditor=True)) and perm.can_read_audit(U(98, is_admin=True))
    assert not perm.can_read_audit(unit_admin) and not perm.can_read_audit(U(97))


def test_a_refusal_carries_its_reason_and_an_allowed_action_passes():
    perm.require(True, "never shown")
    with pytest.raises(PermissionDenied) as refused:
        perm.require(False, "Only the author may edit this post.")
    assert refused.value.message == "Only the author may edit this post."
