"""What the listener reads from the database (World) and its settings (ListenerSettings, from LISTENER_* config).
Split from listener.py; see that module for the process itself."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .affinity import listened_rows
from .groups import Plan, Target, plan_groups


@dataclass
class ListenerSettings:
    refresh_seconds: float = 15.0  # re-read connected mailboxes and the integration's state
    tick_seconds: float = 1.0  # lease renewal, fair share and watchdog cadence
    lease_ms: int = 30_000  # a crashed listener's groups are taken over after this
    connection_timeout_minutes: int = 30  # GetStreamingEvents ConnectionTimeout, 1..30 (EWS-FACTS §8)
    # Exchange writes a keep-alive (ConnectionStatus OK) into an idle stream; the EWS Managed API expects one
    # every 45 s (GetStreamingEventsRequest.HeartbeatFrequencyDefault). Two missed → the connection is dead.
    heartbeat_timeout_seconds: float = 90.0
    pull_interval_seconds: float = 7.0
    fallback_pull_interval_seconds: float = 60.0  # pull after streaming was refused: 1 request/mailbox/minute
    # Every failure loop backs off (jobs/backoff): from 1 s, doubling, with jitter, capped at 5 minutes, so a
    # server that fails forever costs about one request per connection per 5 minutes (SPEC G9).
    min_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    lost_backoff_seconds: float = 5.0  # subscriptions lost on an open connection: 5 s doubling to the cap
    # A stream that stayed open this long ends the failure streak: the next drop backs off from the start again
    # (R4). Without it a day of passing faults grew one group's back-off to the 5-minute cap, and a drop long
    # after the server had recovered left its mailboxes unheard for minutes.
    stream_stable_seconds: float = 15.0
    mailbox_retry_seconds: float = 300.0  # one mailbox that cannot subscribe: 5 min doubling to an hour
    step_down_after: int = 3  # refusals in a row before a group steps down the ladder (listener_ladder)
    ladder_retry_hours: float = 24.0  # then the full grouping is tried again
    # At most one catch-up sync per mailbox per window (the first runs at once, a trailing one at the window's
    # end); five minutes, the safety net's default interval: more often adds requests, not freshness.
    catch_up_debounce_seconds: float = 300.0
    # ...but once the connection has been healthy this long, a deferred catch-up runs at once (R4), each mailbox
    # at most once per min gap: ≤ 1.5 catch-up syncs per mailbox per minute on a flapping connection (G9).
    catch_up_stable_seconds: float = 15.0
    catch_up_min_gap_seconds: float = 40.0
    max_per_group: int = 200
    # Most streaming connections for the whole service account. None (default): no account-wide cap — Microsoft
    # charges an impersonated connection to the impersonated mailbox and every group impersonates its own anchor;
    # a server that charges the service account is learnt from ErrorExceededConnectionCount (listener_limit).
    connection_limit: int | None = None

    @classmethod
    def from_config(cls, config) -> ListenerSettings:
        s = cls()
        for name in s.__dataclass_fields__:
            key = f"LISTENER_{name.upper()}"
            if key in config:
                setattr(s, name, config[key])
        return s


@dataclass(frozen=True)
class World:
    """What the database says right now."""

    connected: bool
    fingerprint: str
    plan: Plan
    server_config: object | None = None
    server_url: str = ""
    targets: tuple = ()  # what the plan was made from, to plan again with the ladder's rungs
    version: str = ""
    impersonation: bool = True
    max_per_group: int = 200
    connection_limit: int | None = None
    parked: tuple = ()  # Targets (EWS server's affinity) waiting for their own affinity before joining a group


def read_world(settings: ListenerSettings) -> World:
    from ..engine.connect import server_config
    from ..engine.record import clear_stale_pause
    from ..ews_soap.versions import GROUPING_INFORMATION
    from ..extensions import db
    from ..models import ExchangeIntegration

    integration = ExchangeIntegration.get()
    if integration is None or integration.state != "connected":
        db.session.rollback()
        return World(False, "", Plan("off", "The Exchange integration is not connected.", ()))
    rows = listened_rows()
    clear_stale_pause(integration)  # authorized again after a pause: the gate may send requests again
    server = integration.server_url.lower()  # until Autodiscover told the mailbox's own (listener_affinity)
    # A mailbox whose affinity Autodiscover has not been asked about yet waits (parked, a refresh or two) rather than
    # joining the EWS server's groups and moving again once its affinity is known: learning affinities moves no
    # group. When Autodiscover cannot tell (asked, no answer), the mailbox uses the EWS server's affinity.
    askable = integration.version in GROUPING_INFORMATION and integration.impersonation
    everyone = [(Target(r.primary_smtp.lower(), r.staff_id, r.affinity or server),
                 askable and r.affinity is None and r.affinity_checked_at is None) for r in rows]
    targets = [t for t, parked in everyone if not parked]
    parked = tuple(t for t, parked in everyone if parked)
    plan = plan_groups(targets, integration.version, integration.impersonation,
                       settings.max_per_group, settings.connection_limit)
    parts = (integration.server_url, integration.username, integration.password_encrypted or "",
             integration.auth_type, integration.version, str(integration.impersonation),
             integration.ca_cert_pem or "", str(integration.allow_http), integration.wsdl_source,
             str(integration.authorized_at))
    fingerprint = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    world = World(True, fingerprint, plan, server_config(integration), integration.server_url, tuple(targets),
                  integration.version, integration.impersonation, settings.max_per_group, settings.connection_limit,
                  parked)
    db.session.rollback()  # end the read transaction; nothing is written here (affinity: listener_affinity)
    return world


def default_session_factory(world: World):
    """One ExchangeSession per runner thread, behind the workers' shared Redis gate (back-off, pause: G3/G4)."""
    from types import SimpleNamespace

    from ..engine.throttle import RedisGate
    from ..ews_soap import ExchangeSession

    def make():  # runs in the runner's thread, inside an app context
        return ExchangeSession(world.server_config,
                               gate=RedisGate.for_integration(SimpleNamespace(server_url=world.server_url)))

    return make
