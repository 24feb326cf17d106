"""Does a failed sign-in take as long for an unknown e-mail as for a wrong password? Prints both medians.

    .venv/bin/python bench/sign_in_timing.py [--rounds 40]

Posts the real sign-in form (CSRF token and all) to the app on a fresh SQLite database, with Argon2 at its
production cost, as someone probing for accounts would: an unknown e-mail, a known one with a wrong
password, and a disabled account, taken in turns so that a busy machine slows all three alike. The sign-in
rate limits are raised out of the way (they would refuse the probe long before the figures settle, which
is their job, not this one's). Prints figures only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desk import create_app  # noqa: E402
from desk.db import make_engine  # noqa: E402
from desk.migrate import upgrade  # noqa: E402
from desk.services import admin  # noqa: E402
from desk.services.audit_trail import SystemActor  # noqa: E402

PASSWORD = "a long enough password"
CSRF_MARK = 'name="csrf_token" type="hidden" value="'


def make_app(folder: str):
    engine = make_engine(f"sqlite:///{folder}/bench.sqlite")
    upgrade(engine)
    app = create_app({
        "DESK_ENGINE": engine, "TWO_FACTOR_ENFORCED": False,
        "DESK_SIGN_IN_ACCOUNT_LIMIT": "100000/hour", "DESK_SIGN_IN_ADDRESS_LIMIT": "100000/hour",
        "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "bench-" * 8, "DESK_MEDIA_DIR": f"{folder}/media",
                "DESK_DATABASE_URL": str(engine.url)},
    })
    operator = SystemActor("cli:bench")
    with app.extensions["desk.sessions"]() as s:
        admin.create_user(s, operator, "known@desk.example", "Known Person", PASSWORD)
        gone = admin.create_user(s, operator, "gone@desk.example", "Gone Person", PASSWORD)
        admin.update_user(s, operator, gone.id, active=False)
    return app


def time_sign_ins(app, rounds: int) -> dict[str, list[float]]:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    start = page.index(CSRF_MARK) + len(CSRF_MARK)
    token = page[start:page.index('"', start)]
    cases = {"unknown e-mail": ("nobody@desk.example", PASSWORD),
             "wrong password": ("known@desk.example", "not the password"),
             "disabled account": ("gone@desk.example", PASSWORD)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(rounds + 2):
        for name, (email, password) in cases.items():
            began = time.perf_counter()
            resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
            took = time.perf_counter() - began
            assert resp.status_code == 200 and "do not match" in resp.get_data(as_text=True), resp.status_code
            if round_ >= 2:  # the first rounds warm caches (and make the dummy hash, once)
                times[name].append(took)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        times = time_sign_ins(make_app(folder), args.rounds)
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"sign-in refused, median of {args.rounds} each (ms), load {os.getloadavg()[0]:.2f}:")
    for name, ms in medians.items():
        spread = statistics.quantiles(times[name], n=10)
        print(f"  {name:17} {ms:7.1f}   (10th-90th percentile {spread[0] * 1000:.1f}-{spread[-1] * 1000:.1f})")
    ratio = medians["wrong password"] / medians["unknown e-mail"]
    print(f"wrong password / unknown e-mail: {ratio:.2f}")


if __name__ == "__main__":
    main()
