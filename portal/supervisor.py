"""A small process supervisor for `make run` and the soak (R4): start every Sundial process, restart one that
stops — with exponential back-off, jitter and a cap, so a child that crashes at once does not spin — and stop
them all on Ctrl-C or SIGTERM. It imports nothing of Flask, RQ or the database.

    python -m portal.supervisor --log-dir .run web="gunicorn wsgi:app" worker-sync="flask sundial worker ..."

Each child gets its own process group (stopping it stops its helpers too), a log file `<log-dir>/<name>.log`
and a pid file `<log-dir>/<name>.pid`. On Linux a child is sent SIGTERM if the supervisor itself dies.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(sig: int) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere a no-op.
    If the parent already died (between fork and here), act on it at once."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (AttributeError, OSError):
        return
    if parent == 1:
        os.kill(os.getpid(), sig)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    crashes: deque = field(default_factory=deque)  # monotonic times of recent unexpected exits
    restart_at: float | None = None


@dataclass
class Policy:
    base: float = 1.0  # first restart after base × jitter seconds
    cap: float = 30.0  # never wait longer than this between restarts
    window: float = 60.0  # crashes counted over this many seconds


class Supervisor:
    def __init__(self, children: list[Child], log_dir: Path, policy: Policy | None = None, say=print):
        self.children, self.log_dir, self.policy, self.say = children, Path(log_dir), policy or Policy(), say
        self.stopping = False
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, child: Child) -> None:
        log = open(self.log_dir / f"{child.name}.log", "ab")  # noqa: SIM115 - the child keeps it open
        child.proc = subprocess.Popen(child.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, preexec_fn=lambda: die_with_parent(signal.SIGTERM))
        log.close()
        (self.log_dir / f"{child.name}.pid").write_text(str(child.proc.pid))
        child.restart_at = None

    def delay(self, child: Child, now: float) -> float:
        """Seconds before the next restart: base × 2^(crashes in the window − 1), capped, with jitter."""
        while child.crashes and child.crashes[0] < now - self.policy.window:
            child.crashes.popleft()
        raw = min(self.policy.cap, self.policy.base * 2 ** max(len(child.crashes) - 1, 0))
        return raw * random.uniform(0.5, 1.0)

    def poll(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.proc is not None and child.restart_at is None:
                code = child.proc.poll()
                if code is None:
                    continue
                child.crashes.append(now)
                wait = self.delay(child, now)
                child.restart_at = now + wait
                how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                self.say(f"→ {child.name} stopped ({how}); restarting in {wait:.1f} s "
                         f"({len(child.crashes)} stops in the last {self.policy.window:.0f} s)", flush=True)
            if child.restart_at is not None and now >= child.restart_at and not self.stopping:
                self.start(child)
                self.say(f"→ {child.name} restarted (pid {child.proc.pid})", flush=True)

    def run(self) -> None:
        for child in self.children:
            self.start(child)
            self.say(f"→ {child.name} started (pid {child.proc.pid}, log {self.log_dir / child.name}.log)",
                     flush=True)
        while not self.stopping:
            self.poll()
            time.sleep(0.2)

    def stop(self, grace: float = 10.0) -> None:
        self.stopping = True
        live = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in live:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in live:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def parse_children(specs: list[str]) -> list[Child]:
    children = []
    for spec in specs:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command.strip():
            raise SystemExit(f"expected NAME=COMMAND, got {spec!r}")
        children.append(Child(name.strip(), shlex.split(command)))
    return children


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m portal.supervisor", description=__doc__.split("\n\n")[0])
    ap.add_argument("--log-dir", default=".run")
    ap.add_argument("--backoff-base", type=float, default=1.0)
    ap.add_argument("--backoff-cap", type=float, default=30.0)
    ap.add_argument("children", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args(argv)
    sup = Supervisor(parse_children(args.children), Path(args.log_dir), Policy(args.backoff_base, args.backoff_cap))

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        sup.run()
    except KeyboardInterrupt:
        pass
    finally:
        print("→ stopping every Sundial process", flush=True)
        sup.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
