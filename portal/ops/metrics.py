"""Prometheus metrics (O2), multi-process safe.

Counters and histograms are incremented where things happen (web processes, RQ job processes, the
listener). With PROMETHEUS_MULTIPROC_DIR set (deploy/ and scripts/run.sh set it), prometheus_client writes
them to memory-mapped files in that directory and /metrics adds up every process's files, so gunicorn
workers and RQ's forked job processes all count. Without it (development, tests) they live in this process.
Gauges that describe shared state (queues, mailbox states, listener connections) are read at scrape time from
Redis and the database, so they never disagree between processes.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as mp

# Buckets in seconds for sync delays: the target is seconds (G2), the product it replaces took up to 60 min.
DELAY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)

EWS_REQUESTS = Counter("sundial_ews_requests_total", "EWS requests by operation and outcome",
                       ["operation", "outcome"], registry=None)
EWS_SECONDS = Histogram("sundial_ews_request_seconds", "EWS request duration", ["operation"], registry=None)
FAILED_SIGNINS = Counter("sundial_failed_signins_total", "EWS requests answered with rejected credentials",
                         registry=None)
THROTTLED_SECONDS = Counter("sundial_throttled_seconds_total", "Seconds of back-off Exchange asked for",
                            registry=None)
EXCHANGE_TO_SUNDIAL = Histogram("sundial_exchange_to_sundial_delay_seconds",
                                "Exchange change time to applied in Sundial", buckets=DELAY_BUCKETS, registry=None)
SUNDIAL_TO_EXCHANGE = Histogram("sundial_sundial_to_exchange_delay_seconds",
                                "Sundial change to written to Exchange", buckets=DELAY_BUCKETS, registry=None)
RECORDED = (EWS_REQUESTS, EWS_SECONDS, FAILED_SIGNINS, THROTTLED_SECONDS, EXCHANGE_TO_SUNDIAL, SUNDIAL_TO_EXCHANGE)


def observe_ews(operation: str, outcome: str, seconds: float) -> None:
    """Registered with portal.ews_soap.observe: EWS knows nothing of Prometheus."""
    EWS_REQUESTS.labels(operation, outcome).inc()
    EWS_SECONDS.labels(operation).observe(seconds)
    if outcome == "AuthenticationFailed":
        FAILED_SIGNINS.inc()


def install() -> None:
    from ..ews_soap.observe import add_observer

    add_observer(observe_ews)


def throttled(seconds: float) -> None:
    THROTTLED_SECONDS.inc(max(seconds, 0.0))


def exchange_to_sundial(seconds: float) -> None:
    EXCHANGE_TO_SUNDIAL.observe(max(seconds, 0.0))


def sundial_to_exchange(seconds: float) -> None:
    SUNDIAL_TO_EXCHANGE.observe(max(seconds, 0.0))


def render(state_collector) -> bytes:
    """The exposition text: the recorded metrics of every process, plus the scrape-time state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mp.MultiProcessCollector(registry)
    else:
        for metric in RECORDED:
            registry.register(metric)
    registry.register(state_collector)
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook (deploy/gunicorn.conf.py): drop a dead worker's live-gauge files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mp.mark_process_dead(pid)
