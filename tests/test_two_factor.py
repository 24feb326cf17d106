"""Two-factor sign-in: the rules (who must, time steps, replay) and the use cases on the database, with a
code refused a second time even by a session that loaded the account before the first use."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from desk.domain import two_factor as rules
from desk.domain.errors import PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AccessGrant, AuditEvent, RecoveryCode, User
from desk.services import two_factor as svc


def actions(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


# ---- the rules --------------------------------------------------------------------------------------

@pytest.mark.parametrize("is_admin, roles, grant, required", [
    (True, {}, False, True),                          # desk administrator
    (False, {1: {"approver"}}, False, True),          # approver by role
    (False, {1: {"author"}, 2: {"unit_admin"}}, False, True),  # unit administrator
    (False, {1: {"author"}}, True, True),             # approver by business-case grant
    (False, {1: {"author"}}, False, False),           # press officer: optional
    (False, {}, False, False),                        # no roles at all
])
def test_who_must_use_two_factors(is_admin, roles, grant, required):
    assert rules.is_required(is_admin, roles, grant) is required


def test_codes_match_their_step_within_one_step_either_side(now):
    secret = rules.new_secret()
    step = rules.step_at(now)
    assert rules.matching_step(secret, rules.code_for_step(secret, step), now) == step
    assert rules.matching_step(secret, rules.code_for_step(secret, step - 1), now) == step - 1
    assert rules.matching_step(secret, rules.code_for_step(secret, step + 1), now) == step + 1
    assert rules.matching_step(secret, rules.code_for_step(secret, step - 3), now) is None
    assert rules.matching_step(secret, "12345", now) is None and rules.matching_step(secret, "abcdef", now) is None


def test_a_step_at_or_before_the_last_accepted_is_a_replay():
    assert not rules.is_replay(100, None)
    assert not rules.is_replay(101, 100)
    assert rules.is_replay(100, 100) and rules.is_replay(99, 100)


def test_recovery_codes_are_ten_distinct_and_typed_loosely():
    codes = rules.new_recovery_codes()
    assert len(set(codes)) == 10 and all(rules.looks_like_recovery_code(c) for c in codes)
    assert rules.recovery_key(" ABCDE-fghjk ") == "abcdefghjk"
    assert rules.looks_like_recovery_code(rules.normalise("abcde fghjk"))
    assert not rules.looks_like_recovery_code("123456") and rules.looks_like_totp(rules.normalise("123 456"))


def test_the_limit_message_says_whose_limit_and_how_long():
    assert rules.LimitBreach("account", 14 * 60 + 5).message == (
        "Too many sign-in attempts for this account: wait 15 minutes or ask an administrator.")
    assert "this network address: wait 1 minute or" in rules.LimitBreach("address", 20).message


# ---- the use cases ----------------------------------------------------------------------------------

def enrol(session, user, now):
    enrolment = svc.start_enrolment(session, user, now=now)
    codes = svc.confirm_enrolment(session, user, rules.code_for_step(enrolment.secret, rules.step_at(now)), now=now)
    return enrolment.secret, codes


def test_enrolment_stores_the_secret_encrypted_and_the_recovery_codes_hashed(world, session, now):
    enrolment = svc.start_enrolment(session, world.approver, now=now)
    assert enrolment.uri.startswith("otpauth://totp/") and "issuer=The%20desk" in enrolment.uri
    assert svc.start_enrolment(session, world.approver, now=now).secret == enrolment.secret  # reload: same key
    stored = session.scalar(select(User.totp_secret).where(User.id == world.approver.id))
    assert enrolment.secret not in stored and not svc.is_enrolled(world.approver)

    with pytest.raises(ValidationFailed) as refused:
        svc.confirm_enrolment(session, world.approver, "000000", now=now)
    assert "does not match" in refused.value.field_errors["code"][0]
    assert not svc.is_enrolled(world.approver)

    codes = svc.confirm_enrolment(
        session, world.approver, rules.code_for_step(enrolment.secret, rules.step_at(now)), now=now)
    assert svc.is_enrolled(world.approver) and len(codes) == 10
    hashes = session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == world.approver.id)).all()
    assert len(hashes) == 10 and not any(rules.recovery_key(c) in h for c in codes for h in hashes)
    assert all(h.startswith("$argon2") for h in hashes)
    assert [e.details for e in actions(session, "two_factor.code_refused")] == [
        '{"reason":"wrong code while enrolling"}']
    assert len(actions(session, "two_factor.enrolled")) == 1
    with pytest.raises(WorkflowConflict):
        svc.start_enrolment(session, world.approver, now=now)


def test_a_code_is_accepted_once_then_refused_even_by_a_session_loaded_before(world, sessions, session, now):
    secret, _ = enrol(session, world.approver, now)
    later = now + timedelta(minutes=5)
    code = rules.code_for_step(secret, rules.step_at(later))
    # Two web processes: each has its own connection and loaded the account before either used the code.
    with sessions() as first, sessions() as second:
        user_in_first = first.get(User, world.approver.id)
        user_in_second = second.get(User, world.approver.id)
        assert user_in_second.totp_last_step < rules.step_at(later)  # its copy says the code is unused
        assert svc.check_sign_in_code(first, user_in_first, code, "10.0.0.1", now=later) == "totp"
        with pytest.raises(ValidationFailed) as refused:
            svc.check_sign_in_code(second, user_in_second, code, "10.0.0.2", now=later)
        assert "used already" in refused.value.field_errors["code"][0]
    session.expire_all()
    assert session.get(User, world.approver.id).totp_last_step == rules.step_at(later)
    # An older code (the step before) is refused too: the last accepted step only moves forward.
    with pytest.raises(ValidationFailed):
        svc.check_sign_in_code(session, session.get(User, world.approver.id),
                               rules.code_for_step(secret, rules.step_at(later) - 1), now=later)
    accepted = actions(session, "two_factor.code_accepted")
    refusals = [e.details for e in actions(session, "two_factor.code_refused")]
    assert len(accepted) == 1 and '"address":"10.0.0.1"' in accepted[0].details
    assert len(refusals) == 2 and all('"reason":"code already used"' in d for d in refusals)


def test_a_wrong_code_is_refused_and_audited(world, session, now):
    enrol(session, world.approver, now)
    with pytest.raises(ValidationFailed):
        svc.check_sign_in_code(session, world.approver, "000000", now=now + timedelta(minutes=1))
    assert '"reason":"wrong code"' in actions(session, "two_factor.code_refused")[-1].details


def test_a_recovery_code_works_once_across_sessions(world, sessions, session, now):
    _, codes = enrol(session, world.approver, now)
    with sessions() as first, sessions() as second:
        a, b = first.get(User, world.approver.id), second.get(User, world.approver.id)
        second.scalars(select(RecoveryCode).where(RecoveryCode.user_id == a.id)).all()  # loaded before use
        assert svc.check_sign_in_code(first, a, codes[3].upper(), now=now) == "recovery"
        with pytest.raises(ValidationFailed) as refused:
            svc.check_sign_in_code(second, b, codes[3], now=now)
        assert "has been used already" in refused.value.field_errors["code"][0]
    assert svc.recovery_codes_left(session, world.approver) == 9
    used = actions(session, "two_factor.recovery_code_used")
    assert len(used) == 1 and '"left":9' in used[0].details
    assert '"reason":"recovery code already used"' in actions(session, "two_factor.code_refused")[-1].details
    with pytest.raises(ValidationFailed):
        svc.check_sign_in_code(session, world.approver, "zzzzz-zzzzz", now=now)


def test_new_recovery_codes_replace_the_old_ones(world, session, now):
    secret, old = enrol(session, world.approver, now)
    later = now + timedelta(minutes=2)
    new = svc.new_recovery_codes(session, world.approver, rules.code_for_step(secret, rules.step_at(later)),
                                 now=later)
    assert set(new).isdisjoint(old) and svc.recovery_codes_left(session, world.approver) == 10
    with pytest.raises(ValidationFailed):
        svc.check_sign_in_code(session, world.approver, old[0], now=later)
    assert svc.check_sign_in_code(session, world.approver, new[0], now=later) == "recovery"


def test_required_by_role_or_grant_optional_otherwise(world, session, now):
    assert svc.is_required(session, world.admin, now) and svc.is_required(session, world.approver, now)
    assert not svc.is_required(session, world.author, now)
    grant = AccessGrant(user_id=world.author.id, channel_id=world.channel.id, role="approver",
                        business_case="Cover for the head of news", period_days=30, status="approved",
                        requested_at=now, starts_at=now - timedelta(days=1), expires_at=now + timedelta(days=29))
    session.add(grant)
    session.commit()
    assert svc.is_required(session, world.author, now)
    assert not svc.is_required(session, world.author, now + timedelta(days=30))  # the grant has expired
    grant.revoked_at = now
    session.commit()
    assert not svc.is_required(session, world.author, now)


def test_optional_users_may_turn_it_off_required_ones_may_not(world, session, now):
    secret, _ = enrol(session, world.author, now)
    later = now + timedelta(minutes=1)
    svc.turn_off(session, world.author, rules.code_for_step(secret, rules.step_at(later)), now=later)
    assert not svc.is_enrolled(world.author) and svc.recovery_codes_left(session, world.author) == 0
    enrol(session, world.approver, now)
    with pytest.raises(WorkflowConflict):
        svc.turn_off(session, world.approver, "123456", now=later)
    assert len(actions(session, "two_factor.turned_off")) == 1


def test_an_administrator_resets_someone_else_never_themselves(world, session, now):
    enrol(session, world.approver, now)
    with pytest.raises(ValidationFailed):
        svc.reset(session, world.admin, world.approver.id, "  ", now=now)
    with pytest.raises(PermissionDenied):
        svc.reset(session, world.approver2, world.approver.id, "lost phone", now=now)
    with pytest.raises(PermissionDenied):
        svc.reset(session, world.admin, world.admin.id, "my own", now=now)
    svc.reset(session, world.admin, world.approver.id, "lost phone, identity checked in person", now=now)
    session.expire_all()
    person = session.get(User, world.approver.id)
    assert not svc.is_enrolled(person) and person.totp_secret is None and person.totp_last_step is None
    assert svc.recovery_codes_left(session, person) == 0
    reset = actions(session, "two_factor.reset")
    assert len(reset) == 1 and reset[0].actor == world.admin.email and "lost phone" in reset[0].details
    assert len(actions(session, "access.refused")) == 2
