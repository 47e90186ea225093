"""Sign-in throttling: counted under lock, per account and per address, with back-off.

Parallel wrong passwords are checked exactly as often as the throttle allows; an email
that is nobody's gets exactly the answers (and the hashing) a staff member's gets; one
stranger's address is throttled long before the account is; a block ends by itself.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from arb_helpers import PASSWORD, arbitration_for
from racing import race
from sqlalchemy import func, select

from arbitration import staff as staff_module
from arbitration.errors import LoginRefusedError, LoginThrottledError
from arbitration.models import LoginThrottle, StaffAudit, StaffSession
from arbitration.settings import Settings

REFUSED, THROTTLED = LoginRefusedError.code, LoginThrottledError.code
WRONG = "not the password"


@pytest.fixture
def arb(tranche, tmp_path):
    return arbitration_for(tranche, tmp_path)


@pytest.fixture
def rita(arb):
    return arb.create_staff("rita@example.com", "reviewer", PASSWORD)


def attempt(arb, email: str, password: str, address: str) -> str:
    try:
        arb.login(email, password, address)
    except LoginRefusedError as exc:
        return exc.code
    return "signed in"


def checked(arb) -> int:
    """How many attempts got as far as the password check (each is audited login_failed)."""
    return arb.read(
        lambda u: u.session.scalar(select(func.count()).where(StaffAudit.action == "login_failed"))
    )


def test_parallel_wrong_passwords_from_one_address_are_checked_five_times(arb, rita):
    results = race([lambda: arb.login(rita.email, WRONG, "10.0.0.9") for _ in range(24)])
    assert sorted(results) == [REFUSED] * 5 + [THROTTLED] * 19
    assert checked(arb) == 5


def test_parallel_wrong_passwords_from_many_addresses_are_checked_ten_times(arb, rita):
    results = race([lambda i=i: arb.login(rita.email, WRONG, f"10.0.1.{i}") for i in range(24)])
    assert sorted(results) == [REFUSED] * 10 + [THROTTLED] * 14
    assert checked(arb) == 10


def test_an_unknown_email_gets_the_same_answers_and_the_same_hashing(arb, rita, monkeypatch):
    verified: list[str] = []
    real_verify = staff_module._verify

    def counting(hashed: str, password: object) -> bool:
        verified.append(hashed)
        return real_verify(hashed, password)

    monkeypatch.setattr(staff_module, "_verify", counting)

    def story(email: str, prefix: str) -> tuple[list[str], int]:
        verified.clear()
        answers = [attempt(arb, email, WRONG, f"{prefix}.{i}") for i in range(12)]
        return answers, len(verified)

    staff_answers, staff_hashes = story(rita.email, "10.1.0")
    nobody_answers, nobody_hashes = story("nobody@example.com", "10.2.0")
    assert staff_answers == nobody_answers == [REFUSED] * 10 + [THROTTLED] * 2
    assert staff_hashes == nobody_hashes == 10  # a throttled attempt hashes nothing, either way


def test_a_stranger_at_one_address_cannot_lock_the_staff_member_out(arb, rita, clock):
    for _ in range(5):
        assert attempt(arb, rita.email, WRONG, "203.0.113.7") == REFUSED
    for _ in range(20):
        assert attempt(arb, rita.email, WRONG, "203.0.113.7") == THROTTLED
    assert attempt(arb, rita.email, PASSWORD, "198.51.100.2") == "signed in"


def test_back_off_doubles_and_a_block_ends_by_itself(arb, rita, clock):
    settings = Settings()
    for _ in range(settings.address_free_failures):
        assert attempt(arb, rita.email, WRONG, "10.0.0.9") == REFUSED
    delays = []
    for _ in range(3):
        wait = timedelta(0)
        while attempt(arb, rita.email, WRONG, "10.0.0.9") == THROTTLED:
            clock.advance(timedelta(seconds=15))
            wait += timedelta(seconds=15)
        delays.append(wait)
    base = settings.backoff_base
    assert delays == [base, 2 * base, 4 * base]
    clock.advance(8 * base)
    assert attempt(arb, rita.email, PASSWORD, "10.0.0.9") == "signed in"


def test_a_quiet_day_forgets_the_failures(arb, rita, clock):
    for _ in range(4):
        attempt(arb, rita.email, WRONG, "10.0.0.9")
    clock.advance(Settings().forget_failures_after + timedelta(seconds=1))
    for _ in range(4):
        assert attempt(arb, rita.email, WRONG, "10.0.0.9") == REFUSED


def test_the_sweep_forgets_quiet_counts_and_finished_sessions(arb, rita, clock):
    attempt(arb, rita.email, WRONG, "10.0.0.9")
    ended = arb.start_session(rita, "10.0.0.9", timedelta(hours=10))
    arb.end_session(ended, rita, "10.0.0.9")
    live = arb.start_session(rita, "10.0.0.9", timedelta(days=3))

    def rows() -> tuple[int, int]:
        return arb.read(
            lambda u: (
                u.session.scalar(select(func.count()).select_from(LoginThrottle)),
                u.session.scalar(select(func.count()).select_from(StaffSession)),
            )
        )

    arb.sweep()
    assert rows() == (2, 1)  # the failure is fresh; the ended session goes at once
    clock.advance(Settings().forget_failures_after + timedelta(seconds=1))
    arb.sweep()
    assert rows() == (0, 1)
    assert arb.session_staff(live).id == rita.id
