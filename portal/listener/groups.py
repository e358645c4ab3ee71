"""Which mailboxes share a notification connection: pure planning, no I/O (SPEC G2).

Facts (../shared/EWS-FACTS.md):
- §8: at most 200 SubscriptionIds per GetStreamingEvents request, so a group holds ≤ 200 mailboxes.
- §6: mailboxes of one server affinity share a connection; X-AnchorMailbox is the group's first mailbox.
  Subscriptions are not supported with delegate access (ErrorSubscriptionDelegateAccessNotSupported).
- §7: HangingConnectionLimit (concurrent streaming connections per account) is 3 for Exchange 2013 and
  10 for 2016/2019; it counts across every listener process, so the plan never exceeds it.
- §9 / SPEC S3: streaming needs Exchange 2010 SP1 or later; plain "2010" gets pull subscriptions.

Group membership is chosen by a stable hash of the address, so a mailbox joining or leaving changes one
group only (the others keep their connection and their lease).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

MAX_PER_GROUP = 200

# Exchange version label → HangingConnectionLimit. 2013: 3, 2016/2019: 10 (EWS-FACTS §7). Microsoft
# publishes no figure for 2010 SP1/SP2; we assume the 2013 value, the lower of the two.
HANGING_CONNECTION_LIMIT: dict[str, int] = {
    "2010_SP1": 3, "2010_SP2": 3, "2013": 3, "2013_SP1": 3, "2016": 10, "2019": 10,
}

# Exchange version label → notification mode with impersonation on. Streaming arrived in 2010 SP1.
MODE_BY_VERSION: dict[str, str] = {
    "2010": "pull", "2010_SP1": "streaming", "2010_SP2": "streaming", "2013": "streaming",
    "2013_SP1": "streaming", "2016": "streaming", "2019": "streaming",
}

MODE_REASONS: dict[str, str] = {
    "streaming": "Streaming notifications (GetStreamingEvents), grouped by server affinity.",
    "pull": ("Exchange 2010 before SP1 has no streaming notifications; using pull subscriptions (GetEvents) "
             "on a short interval."),
    "polling": ("Delegate access cannot subscribe to notifications (ErrorSubscriptionDelegateAccessNotSupported); "
                "changes arrive through the periodic safety-net sync only. Turn impersonation on for seconds."),
}


@dataclass(frozen=True, order=True)
class Target:
    """One mailbox to listen to. `affinity` groups mailboxes served by the same backend (default: one server)."""

    mailbox: str
    staff_id: int
    affinity: str = ""


@dataclass(frozen=True)
class Group:
    key: str  # stable name, used for the Redis lease
    mode: str  # "streaming" | "pull"
    members: tuple[Target, ...]

    @property
    def anchor(self) -> str:
        """X-AnchorMailbox for every request of the group: its first mailbox (EWS-FACTS §6)."""
        return self.members[0].mailbox

    @property
    def mailboxes(self) -> list[str]:
        return [m.mailbox for m in self.members]

    def staff_for(self, mailbox: str) -> int | None:
        low = mailbox.lower()
        for m in self.members:
            if m.mailbox.lower() == low:
                return m.staff_id
        return None


@dataclass(frozen=True)
class Plan:
    mode: str
    reason: str
    groups: tuple[Group, ...]

    def by_key(self) -> dict[str, Group]:
        return {g.key: g for g in self.groups}


def listener_mode(version: str, impersonation: bool) -> str:
    if not impersonation:
        return "polling"
    return MODE_BY_VERSION.get(version, "streaming")


def _bucket(mailbox: str, n: int) -> int:
    return zlib.crc32(mailbox.lower().encode()) % n


def _split(targets: list[Target], max_per_group: int) -> list[list[Target]]:
    """Hash targets into the fewest buckets with none above max_per_group."""
    n = max(1, math.ceil(len(targets) / max_per_group))
    while True:
        buckets: list[list[Target]] = [[] for _ in range(n)]
        for t in targets:
            buckets[_bucket(t.mailbox, n)].append(t)
        if max(len(b) for b in buckets) <= max_per_group or n >= len(targets):
            return [sorted(b) for b in buckets if b]
        n += 1


def _affinity_tag(affinity: str) -> str:
    return format(zlib.crc32(affinity.encode()), "08x") if affinity else "default"


def _chunks(mode: str, tag: str, members: list[Target], rungs: dict, max_per_group: int):
    """(key, members) of one affinity: the ordinary hashed groups, then the mailboxes a failing group was split
    into (rungs with a smaller cap, listener_ladder), in chunks of their cap."""
    normal = [t for t in members if t.mailbox not in rungs]
    chunks = _split(normal, max_per_group) if normal else []
    out = [(f"{mode}:{tag}:{len(chunks)}:{i}", c) for i, c in enumerate(chunks)]
    caps = sorted({r.cap for r in rungs.values() if r.mode == mode}, reverse=True)
    for cap in caps:
        capped = [t for t in members if t.mailbox in rungs and rungs[t.mailbox].mode == mode
                  and rungs[t.mailbox].cap == cap]
        out += [(f"{mode}:{tag}:split{cap}:{i // cap}", capped[i:i + cap]) for i in range(0, len(capped), cap)]
    return out


def plan_groups(targets: list[Target], version: str, impersonation: bool,
                max_per_group: int = MAX_PER_GROUP, connection_limit: int | None = None,
                rungs: dict | None = None) -> Plan:
    """Groups for the current mailboxes. Streaming groups beyond the connection limit fall back to pull.
    `rungs`: mailbox → listener_ladder.Rung for mailboxes whose group the server kept refusing."""
    mode = listener_mode(version, impersonation)
    if mode == "polling" or not targets:
        return Plan(mode, MODE_REASONS[mode], ())
    rungs = rungs or {}
    limit = connection_limit if connection_limit is not None else HANGING_CONNECTION_LIMIT.get(version, 3)
    by_affinity: dict[str, list[Target]] = {}
    fallback: list[Target] = []
    for t in sorted(set(targets)):
        rung = rungs.get(t.mailbox)
        if rung is not None and rung.mode == "pull" and mode == "streaming":
            fallback.append(t)
        elif rung is None or rung.mode == mode:
            by_affinity.setdefault(t.affinity, []).append(t)
    groups: list[Group] = []
    overflow: list[Target] = []
    for affinity in sorted(by_affinity):
        for key, chunk in _chunks(mode, _affinity_tag(affinity), by_affinity[affinity], rungs, max_per_group):
            if mode == "streaming" and len(groups) >= limit:
                overflow += chunk
                continue
            groups.append(Group(key, mode, tuple(chunk)))
    reason = MODE_REASONS[mode]
    if overflow:
        reason += (f" {len(overflow)} mailboxes exceed the server's limit of {limit} streaming connections "
                   "and use pull subscriptions instead.")
    for name, extra in (("overflow", overflow), ("fallback", fallback)):
        for i, chunk in enumerate(_split(extra, max_per_group) if extra else []):
            groups.append(Group(f"pull:{name}:{i}", "pull", tuple(chunk)))
    if rungs:
        reason += f" {len(rungs)} mailboxes stepped down after the server refused their notifications."
    return Plan(mode, reason, tuple(groups))
