"""What every listener process must agree on beyond the leases, kept in Redis (one integration configuration,
its fingerprint, at a time):

- `Assignment`: mailbox → packed group key of the last plan (listener_groups' sticky packing). Every process plans
  from the same assignment, so they name the same groups (leases are keyed by group) and a restarted listener
  finds its groups again instead of regrouping everyone.
- `LearntLimit`: the streaming connections Exchange accepts for the service account, learnt from
  ErrorExceededConnectionCount. Microsoft documents an impersonated connection as charged to the impersonated
  mailbox (each group impersonates its own anchor, so no account-wide cap applies); a server that charges the
  service account refuses the connection beyond its HangingConnectionLimit. Each refusal lowers the limit by one
  below the streaming groups planned then (a refused connection is one too many); the refused groups are the
  first read by pull subscriptions, so the connections that are open stay open (closing one to retry a refused one
  would be refused again while Exchange still counts the closed one). The limit is forgotten after `retry_hours`
  (the admin may have raised it), when the full plan is tried again.
"""
from __future__ import annotations

import json
import time

TTL_SECONDS = 7 * 86400


class Assignment:
    def __init__(self, redis, prefix: str):
        self.redis, self.key = redis, f"{prefix}:assignment"
        self._saved: tuple[str, dict] | None = None

    def load(self, fingerprint: str) -> dict[str, str]:
        raw = self.redis.get(self.key)
        try:
            stored = json.loads(raw) if raw else {}
        except ValueError:
            stored = {}
        if stored.get("fingerprint") != fingerprint:
            return {}
        return dict(stored.get("groups") or {})

    def save(self, fingerprint: str, assignment: dict[str, str]) -> None:
        if self._saved == (fingerprint, assignment):
            return
        self.redis.set(self.key, json.dumps({"fingerprint": fingerprint, "groups": assignment}), ex=TTL_SECONDS)
        self._saved = (fingerprint, dict(assignment))


class LearntLimit:
    def __init__(self, redis, prefix: str, retry_hours: float = 24.0):
        self.redis, self.key, self.retry_seconds = redis, f"{prefix}:connection-limit", retry_hours * 3600

    def _stored(self, fingerprint: str) -> dict:
        raw = self.redis.get(self.key)
        try:
            stored = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        if stored.get("fingerprint") != fingerprint or stored.get("since", 0) < time.time() - self.retry_seconds:
            return {}
        return stored

    def get(self, fingerprint: str) -> int | None:
        stored = self._stored(fingerprint)
        return int(stored["limit"]) if "limit" in stored else None

    def refused(self, fingerprint: str) -> set[str]:
        """The groups Exchange refused: they are the first read by pull when the limit cuts (listener_groups), so
        the connections already open keep streaming and no open connection is closed to retry a refused one."""
        return set(self._stored(fingerprint).get("refused") or ())

    def lower(self, fingerprint: str, planned_streaming: int, group_key: str) -> int:
        """`group_key`'s connection was refused with ErrorExceededConnectionCount while `planned_streaming` were
        planned: one connection too many. 0 means Exchange accepts none (every mailbox is read by pull)."""
        stored = self._stored(fingerprint)
        current = stored.get("limit")
        base = planned_streaming if current is None else min(int(current), planned_streaming)
        limit = max(0, base - 1)
        refused = sorted(set(stored.get("refused") or ()) | {group_key})
        self.redis.set(self.key, json.dumps({"fingerprint": fingerprint, "limit": limit, "refused": refused,
                                             "since": time.time()}), ex=TTL_SECONDS)
        return limit

    def clear(self) -> None:
        self.redis.delete(self.key)
