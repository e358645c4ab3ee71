"""R3 timing parity: a wrong password for a known user, an unknown user and a disabled user take the same time.

    .venv/bin/python benchmarks/bench_signin_timing.py [--rounds 3 --attempts 20]   (quick: --attempts 5)

A fresh Sundial (SQLite, private redis-server for the sign-in limits) answers POST /login through Flask's test
client; each round interleaves the three kinds (a fresh client address per attempt, so no limit interferes).
Prints median milliseconds per kind and round, CPU seconds and the machine load, and writes
benchmarks/results/signin_timing.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchutil import start_redis  # noqa: E402  (benchmarks/ is on sys.path as a script)

RESULTS = ROOT / "benchmarks" / "results" / "signin_timing.md"
KINDS = {"known user, wrong password": "known@example.test", "unknown user": "nobody@example.test",
         "disabled user, right password": "off@example.test"}


def build_app(tmp: Path, redis_url: str):
    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp / "instance")
    sys.path.insert(0, str(ROOT))
    from portal import create_app
    from portal.extensions import db
    from portal.models import User

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "REDIS_URL": redis_url,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}"})
    with app.app_context():
        db.create_all()
        for email, enabled in (("known@example.test", True), ("off@example.test", False)):
            user = User(email=email, name=email, role="admin", is_enabled=enabled)
            user.set_password("right password")
            db.session.add(user)
        db.session.commit()
    return app


def one_round(app, attempts: int, seq: list[int]) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    client = app.test_client()
    for _ in range(attempts):
        for kind, email in KINDS.items():
            seq[0] += 1
            address = f"10.{seq[0] // 65536 % 256}.{seq[0] // 256 % 256}.{seq[0] % 256}"
            password = "right password" if kind.startswith("disabled") else "wrong"
            start = time.perf_counter()
            status = client.post("/login", data={"email": email, "password": password},
                                 environ_base={"REMOTE_ADDR": address}).status_code
            times[kind].append((time.perf_counter() - start) * 1000)
            assert status == 401, (kind, status)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_redis(Path(tmp))
        try:
            app = build_app(Path(tmp), url)
            cpu0, seq = time.process_time(), [0]
            rounds = [one_round(app, args.attempts, seq) for _ in range(args.rounds)]
            cpu = time.process_time() - cpu0
        finally:
            proc.terminate()
    lines = ["| attempt | " + " | ".join(f"round {i + 1} median ms" for i in range(args.rounds)) + " |",
             "|---|" + "---|" * args.rounds]
    for kind in KINDS:
        lines.append(f"| {kind} | " + " | ".join(f"{r[kind]:.0f}" for r in rounds) + " |")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"\n{args.rounds} rounds × {args.attempts} attempts per kind, interleaved; CPU {cpu:.1f} s; "
                 f"load average {load}.")
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("# Sign-in timing (R3)\n\n" + text + "\n")


if __name__ == "__main__":
    main()
