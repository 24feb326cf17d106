"""A refused sign-in does the same work whatever the reason, so that its answer time does not tell an attacker
which e-mails have accounts. Not a timed test: it counts the Argon2 verifications a real hasher performs,
and checks they are made at the hasher's own cost. bench/sign_in_timing.py measures the times themselves."""
import pytest
from argon2 import PasswordHasher, extract_parameters

from desk.services import accounts, admin

from conftest import OPERATOR, PASSWORD


class CountingHasher(PasswordHasher):
    """A real Argon2 hasher that notes the parameters of every hash it verifies."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.verified = []

    def verify(self, hash, password):
        self.verified.append(extract_parameters(hash))
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch):
    counting = CountingHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", counting)
    return counting


@pytest.mark.parametrize("email, password, reason", [
    ("nobody@desk.test", PASSWORD, "unknown e-mail"),
    ("author@desk.test", "not the password", "wrong password"),
    ("gone@desk.test", PASSWORD, "account disabled"),
])
def test_every_refusal_verifies_one_argon2_hash_at_the_hashers_cost(session, world, hasher, email, password, reason):
    gone = admin.create_user(session, OPERATOR, "gone@desk.test", "Gone Person", PASSWORD)
    admin.update_user(session, OPERATOR, gone.id, active=False)
    # The accounts were made before this hasher, as they would be with an older cost: made again here, so
    # that a verification costs what the hasher says.
    for user in (world.author, gone):
        user.password_hash = accounts.hash_password(PASSWORD)
    session.commit()
    hasher.verified.clear()
    assert accounts.sign_in(session, email, password, "192.0.2.1") is None
    assert len(hasher.verified) == 1, reason
    cost = hasher.verified[0]
    assert (cost.time_cost, cost.memory_cost, cost.parallelism) == (2, 2048, 1)


def test_a_right_password_still_signs_in(session, world, hasher):
    assert accounts.sign_in(session, world.author.email, PASSWORD).id == world.author.id
    assert len(hasher.verified) == 1
