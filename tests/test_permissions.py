"""Who may do what, decided from roles per unit, tested with plain objects."""
from dataclasses import dataclass, field
from types import SimpleNamespace

from desk.domain import permissions as perm


@dataclass
class U:
    id: int
    roles: dict = field(default_factory=dict)
    is_admin: bool = False
    is_auditor: bool = False

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
