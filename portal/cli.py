"""flask sundial … commands."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

sundial = AppGroup("sundial", help="Sundial administration commands.")


@sundial.command("worker")
@click.option("--queues", default=None,
              help="Comma-separated queues, in priority order. Run one worker per class: 'sync' and "
                   "'export,notify,default' (default: all four, fast ones first).")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True)
def worker(queues: str | None, burst: bool, with_scheduler: bool):
    """Run an RQ worker inside the app context (RQ's scheduler on by default)."""
    from .extensions import redis_connection
    from .jobs.queues import DEFAULT_WORKER_QUEUES, QUEUE_NAMES, get_queue
    from .jobs.worker import make_worker, prepare_worker_process, work_through_outages

    names = [q.strip() for q in (queues or ",".join(DEFAULT_WORKER_QUEUES)).split(",") if q.strip()]
    unknown = [n for n in names if n not in QUEUE_NAMES]
    if unknown or not names:
        raise click.UsageError(f"unknown queue {', '.join(unknown) or '(none)'}; the queues are "
                               f"{', '.join(QUEUE_NAMES)}")
    cfg = current_app.config
    fork = cfg["WORKER_FORK"]
    prepare_worker_process(current_app, warm=not fork)
    click.echo(f"worker on queues {', '.join(names)}" + (" with RQ's scheduler" if with_scheduler else "") +
               (", forking per job" if fork else ", jobs in this process (warm)"))
    ttl = cfg["WORKER_TTL_SECONDS"]  # an idle worker beats every ttl - 15 s: /readyz reads it (O1)
    app = current_app._get_current_object()
    work_through_outages(lambda: make_worker([get_queue(n) for n in names], redis_connection(), fork=fork,
                                             worker_ttl=ttl, app=app, max_jobs=cfg["WORKER_MAX_JOBS"],
                                             max_rss_mb=cfg["WORKER_MAX_RSS_MB"]),
                         redis_connection(), burst=burst, with_scheduler=with_scheduler)


@sundial.command("listener")
def listener():
    """Keep Exchange notification subscriptions open and enqueue a mailbox's sync on each change (G2)."""
    from .listener.process import run_listener

    run_listener(current_app._get_current_object())


@sundial.command("seed-demo")
@click.option("--if-empty", is_flag=True,
              help="Seed only when the database holds no logins, staff, locations, services, clients or "
                   "appointments; otherwise change nothing (what `make run` uses).")
def seed_demo(if_empty: bool):
    """Create the demo organisation (idempotent) and print its logins."""
    from .demo import seed, seed_if_empty

    for line in (seed_if_empty() if if_empty else seed()):
        click.echo(line)


@sundial.command("create-admin")
@click.argument("email")
@click.password_option()
def create_admin(email: str, password: str):
    """Create (or reset) an admin login."""
    from .extensions import db
    from .models import User

    user = db.session.execute(db.select(User).where(User.email == email.lower())).scalar_one_or_none()
    user = user or User(email=email.lower(), name=email.split("@")[0], role="admin")
    user.role = "admin"
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Admin {email} is ready.")


def register_cli(app) -> None:
    app.cli.add_command(sundial)
    from .settings.exchange import cli as _exchange_cli  # noqa: F401 - registers `flask sundial rotate-keys`
