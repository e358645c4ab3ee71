"""`flask sundial status` (O1) and `flask sundial doctor` (O5)."""
from __future__ import annotations

import sys

import click

from ..cli import sundial


@sundial.command("status")
def status():
    """What /readyz checks, with details; exit status 1 when something is not ready."""
    from .health import current_readiness, summary_lines

    checks = current_readiness()
    for line in summary_lines(checks):
        click.echo(line)
    sys.exit(0 if all(c.ok for c in checks) else 1)


@sundial.command("doctor")
@click.option("--sample", default=5, show_default=True, help="How many staff mailboxes to check for access rights.")
def doctor(sample: int):
    """Check the Exchange connection step by step (DNS, TCP, TLS, sign-in, rights, notifications)."""
    from .doctor import run_doctor_for_integration

    report = run_doctor_for_integration(sample=sample)
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)


@sundial.command("scheduler")
def scheduler():
    """Run RQ's scheduler alone (deploy/systemd/sundial-scheduler.service): moves delayed jobs to their queues.
    Workers run one too; a lock per queue in Redis lets one at a time work, so either may stop."""
    from ..jobs.queues import QUEUE_NAMES, redis_connection
    from ..jobs.worker import SundialScheduler

    SundialScheduler(list(QUEUE_NAMES), connection=redis_connection()).work()


def register(app) -> None:
    """The commands attach to the `sundial` group when this module is imported (by init_ops)."""
