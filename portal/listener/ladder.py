"""The degradation ladder of notification groups (SPEC G2, G9): grouped streaming → smaller groups → one mailbox
per connection → pull subscriptions → polling (the safety net alone).

A group whose connection the server keeps refusing (for instance ErrorInvalidSubscription for every
subscription, as the issue-12 field server answered any connection carrying several mailboxes, because it
attaches subscriptions to the impersonated mailbox) is split in halves, down to one mailbox per connection.
Only a single-mailbox connection that is still refused falls back to a pull subscription, and a refused pull
subscription to polling. Each step is one "rung" per mailbox, kept in Redis so every listener process plans
the same groups (their leases are keyed by group) and a restarted listener does not climb the ladder again.
A rung belongs to one integration configuration (its fingerprint) and is forgotten after `retry_hours`, when
the full grouping is tried again.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

LADDER_TTL_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Rung:
    mode: str  # "streaming" | "pull" | "polling"
    cap: int  # most mailboxes per streaming connection for this mailbox
    code: str  # the ResponseCode (or error) that moved it here
    since: float  # epoch seconds
    fingerprint: str = ""

    def sentence(self) -> str:
        """What the User Accounts tab says about this mailbox's notifications."""
        at = datetime.fromtimestamp(self.since, UTC).strftime("%H:%M UTC")
        if self.mode == "streaming":
            split = ("split to single-mailbox connections" if self.cap == 1
                     else f"split to connections of at most {self.cap} mailboxes")
            return f"Streaming refused by the server ({self.code}) — {split} since {at}."
        if self.mode == "pull":
            return (f"Streaming refused by the server ({self.code}) even on a single-mailbox connection — "
                    f"pull subscriptions since {at}.")
        return (f"Notifications refused by the server ({self.code}) for streaming and pull — changes arrive "
                f"through the periodic sync only, since {at}.")


def next_rung(current: Rung | None, group_size: int, mode: str, code: str, fingerprint: str,
              now: float | None = None) -> Rung:
    """One step down for a mailbox of a failing group of `group_size` in `mode`."""
    now = time.time() if now is None else now
    if mode == "streaming" and group_size > 1:
        return Rung("streaming", max(1, math.ceil(group_size / 2)), code, now, fingerprint)
    if mode == "streaming":
        return Rung("pull", 1, code, now, fingerprint)
    return Rung("polling", 1, code, now, fingerprint)


class Ladder:
    """Rungs per mailbox (lower-case address) in one Redis hash."""

    def __init__(self, redis, prefix: str, retry_hours: float = 24.0):
        self.redis, self.key, self.retry_seconds = redis, f"{prefix}:ladder", retry_hours * 3600

    def rungs(self, fingerprint: str) -> dict[str, Rung]:
        out = {}
        cutoff = time.time() - self.retry_seconds
        for mailbox, raw in (self.redis.hgetall(self.key) or {}).items():
            mailbox = mailbox.decode() if isinstance(mailbox, bytes) else mailbox
            try:
                rung = Rung(**json.loads(raw))
            except (TypeError, ValueError):
                continue
            if rung.fingerprint == fingerprint and rung.since >= cutoff:
                out[mailbox] = rung
        return out

    def step_down(self, mailboxes: list[str], group_size: int, mode: str, code: str,
                  fingerprint: str) -> dict[str, Rung]:
        current = self.rungs(fingerprint)
        moved = {m: next_rung(current.get(m), group_size, mode, code, fingerprint) for m in mailboxes}
        if moved:
            self.redis.hset(self.key, mapping={m: json.dumps(asdict(r)) for m, r in moved.items()})
            self.redis.expire(self.key, LADDER_TTL_SECONDS)
        return moved

    def clear(self) -> None:
        self.redis.delete(self.key)


def write_notes(notes: dict[str, str]) -> None:
    """Store each listened mailbox's ladder sentence on its MailboxState row (None when it has none)."""
    from ..extensions import db
    from ..models import MailboxState

    rows = db.session.execute(db.select(MailboxState).where(MailboxState.primary_smtp.is_not(None))).scalars()
    for row in rows:
        note = notes.get((row.primary_smtp or "").lower())
        if row.listener_note != note:
            row.listener_note = note
    db.session.commit()
