"""Which mailboxes share a notification connection: pure planning, no I/O (SPEC G2).

Facts (../shared/EWS-FACTS.md):
- §8: at most 200 SubscriptionIds per GetStreamingEvents request, so a group holds ≤ 200 mailboxes.
- §6: mailboxes of one server affinity share a connection; X-AnchorMailbox is the group's first mailbox.
  Subscriptions are not supported with delegate access (ErrorSubscriptionDelegateAccessNotSupported).
- §7: HangingConnectionLimit (concurrent streaming connections) is 3 for Exchange 2013 and 10 for 2016/2019.
  Microsoft charges an impersonated connection to a copy of the *impersonated* mailbox's budget ("ServiceAccount1
  ... impersonating any of the users — m1 for example — so that the connection is charged against a copy of m1's
  budget"; MSDOC how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server, "What throttling
  values do I need to take into consideration?"). Every group's GetStreamingEvents impersonates its own anchor, so
  by the documentation each connection is charged to a different mailbox and one service account can stream
  every mailbox. A server that charges the service account instead says so with ErrorExceededConnectionCount:
  the listener then learns the limit (`connection_limit`, listener_limit) and the groups beyond it use pull
  subscriptions, polled once a minute; the User Accounts tab says how many mailboxes stream (limit × 200).
- §9 / SPEC S3: streaming needs Exchange 2010 SP1 or later; plain "2010" gets pull subscriptions.

Stable packing: a mailbox keeps the group it had (`previous`: mailbox → group key, the last plan's assignment,
shared through Redis by listener_limit.Assignment) while its affinity is unchanged and the group has room; a new
mailbox, or one whose affinity changed, takes the first group of its affinity with room, else opens a new one.
So adding, removing or re-learning one mailbox moves that mailbox only. With no history the plan fills groups of
200 in address order.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

MAX_PER_GROUP = 200

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
    assignment: dict = field(default_factory=dict, compare=False)  # mailbox → packed group key (sticky packing)
    capacity: str = ""  # capacity_sentence when the connection limit keeps mailboxes off streaming

    def by_key(self) -> dict[str, Group]:
        return {g.key: g for g in self.groups}


def listener_mode(version: str, impersonation: bool) -> str:
    if not impersonation:
        return "polling"
    return MODE_BY_VERSION.get(version, "streaming")


def _bucket(mailbox: str, n: int) -> int:
    return zlib.crc32(mailbox.lower().encode()) % n


def _split(targets: list[Target], max_per_group: int) -> list[list[Target]]:
    """Hash targets into the fewest buckets with none above max_per_group (ladder fallback groups only)."""
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


def _pack(prefix: str, members: list[Target], previous: dict[str, str], cap: int) -> list[tuple[str, list[Target]]]:
    """Sticky packing of one affinity's mailboxes into slots `prefix:<n>` of at most `cap`: each mailbox keeps its
    previous slot while that slot has room; the others fill the lowest slots with room, then new slots."""
    slots: dict[int, list[Target]] = {}
    movers: list[Target] = []
    head = prefix + ":"
    for t in members:  # sorted: when a slot is over its cap (the cap was lowered), the last addresses move
        key = previous.get(t.mailbox, "")
        index = key[len(head):] if key.startswith(head) else ""
        if index.isdigit() and len(slots.setdefault(int(index), [])) < cap:
            slots[int(index)].append(t)
        else:
            movers.append(t)
    n = 0
    for t in movers:
        while len(slots.get(n, ())) >= cap:
            n += 1
        slots.setdefault(n, []).append(t)
    return [(f"{head}{i}", sorted(slots[i])) for i in sorted(slots) if slots[i]]


def _chunks(mode: str, tag: str, members: list[Target], rungs: dict, max_per_group: int, previous: dict):
    """(key, members) of one affinity: the ordinary packed groups, then the mailboxes a failing group was split
    into (rungs with a smaller cap, listener_ladder), in chunks of their cap."""
    normal = [t for t in members if t.mailbox not in rungs]
    out = _pack(f"{mode}:{tag}", normal, previous, max_per_group) if normal else []
    caps = sorted({r.cap for r in rungs.values() if r.mode == mode}, reverse=True)
    for cap in caps:
        capped = [t for t in members if t.mailbox in rungs and rungs[t.mailbox].mode == mode
                  and rungs[t.mailbox].cap == cap]
        out += [(f"{mode}:{tag}:split{cap}:{i // cap}", capped[i:i + cap]) for i in range(0, len(capped), cap)]
    return out


OVERFLOW = "pull:over:"  # a streaming group beyond the connection limit keeps its members, read by pull


def capacity_sentence(limit: int | None, streaming: int, pulled: int, learnt: bool, max_per_group: int = 200) -> str:
    """What the User Accounts tab and the alert say when one service account cannot stream every mailbox."""
    if limit is None or not pulled:
        return ""
    how = ("Exchange refused more streaming connections (ErrorExceededConnectionCount)" if learnt
           else "LISTENER_CONNECTION_LIMIT is set")
    most = (f"can stream notifications for at most {limit * max_per_group} mailboxes ({limit} connections × "
            f"{max_per_group})" if limit else "cannot open any streaming connection")
    return (f"This service account {most}: {how}. {streaming} mailboxes stream; {pulled} use pull "
            "subscriptions, read about once a minute. An Exchange admin can raise the limit with "
            "HangingConnectionLimit in the web.config of EWS on each Exchange server (Microsoft's documented "
            "override; it is not a throttling-policy parameter), and, if Exchange reports "
            "ErrorExceededSubscriptionCount, EWSMaxSubscriptions for the service account with a throttling policy "
            "(New-ThrottlingPolicy, Set-ThrottlingPolicyAssociation). "
            "Sundial uses one service account; a second one is not supported.")


def plan_groups(targets: list[Target], version: str, impersonation: bool,
                max_per_group: int = MAX_PER_GROUP, connection_limit: int | None = None,
                rungs: dict | None = None, previous: dict[str, str] | None = None,
                learnt_limit: bool = False, refused: set[str] | frozenset = frozenset()) -> Plan:
    """Groups for the current mailboxes. `connection_limit`: most streaming connections (None: no cap, each
    connection being charged to its own anchor mailbox); the streaming groups beyond it fall back to pull.
    `rungs`: mailbox → listener_ladder.Rung for mailboxes whose group the server kept refusing.
    `previous`: mailbox → group key of the last plan (sticky packing). `refused`: group keys Exchange refused a
    connection for (ErrorExceededConnectionCount): the first to be read by pull when the limit cuts."""
    mode = listener_mode(version, impersonation)
    if mode == "polling" or not targets:
        return Plan(mode, MODE_REASONS[mode], ())
    rungs, previous = rungs or {}, previous or {}
    by_affinity: dict[str, list[Target]] = {}
    fallback: list[Target] = []
    for t in sorted(set(targets)):
        rung = rungs.get(t.mailbox)
        if rung is not None and rung.mode == "pull" and mode == "streaming":
            fallback.append(t)
        elif rung is None or rung.mode == mode:
            by_affinity.setdefault(t.affinity, []).append(t)
    groups: list[Group] = []
    for affinity in sorted(by_affinity):
        for key, chunk in _chunks(mode, _affinity_tag(affinity), by_affinity[affinity], rungs, max_per_group,
                                  previous):
            groups.append(Group(key, mode, tuple(chunk)))
    assignment = {t.mailbox: g.key for g in groups for t in g.members}
    reason = MODE_REASONS[mode]
    capacity = ""
    if mode == "streaming" and connection_limit is not None and len(groups) > connection_limit:
        # which groups stream is stable too: the first by key, the refused ones last; the others keep their
        # members, read by pull
        ordered = sorted(groups, key=lambda g: (g.key in refused, g.key))
        cut = {g.key for g in ordered[max(0, connection_limit):]}
        groups = [Group(OVERFLOW + g.key, "pull", g.members) if g.key in cut else g for g in groups]
        over = sum(len(g.members) for g in groups if g.mode == "pull")
        streamed = sum(len(g.members) for g in groups if g.mode == "streaming")
        reason += (f" {over} mailboxes exceed the server's limit of {connection_limit} streaming connections "
                   "and use pull subscriptions instead.")
        capacity = capacity_sentence(connection_limit, streamed, over, learnt_limit, max_per_group)
    for i, chunk in enumerate(_split(fallback, max_per_group) if fallback else []):
        groups.append(Group(f"pull:fallback:{i}", "pull", tuple(chunk)))
    if rungs:
        reason += f" {len(rungs)} mailboxes stepped down after the server refused their notifications."
    return Plan(mode, reason, tuple(groups), assignment, capacity)
