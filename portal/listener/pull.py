"""Pull subscriptions polled on a short interval (GetEvents): Exchange 2010 RTM, which has no streaming
notifications (they arrived in 2010 SP1), and mailboxes beyond the server's streaming connection limit.

Each round asks every mailbox of the group for its events since the last watermark (MoreEvents → ask again at
once, EWS-FACTS §8); any change enqueues that mailbox's sync. A lost or expired subscription is made again
(without the old watermark) and followed by a catch-up sync. A mailbox whose subscription the server refuses
`step_down_after` times in a row steps down to polling (listener_ladder). Mailboxes that fell back here from
streaming (groups "pull:fallback:*") or are beyond the streaming connection limit Exchange reported (groups
"pull:over:*", listener_limit) are polled every `fallback_pull_interval_seconds` (one request per mailbox per
minute by default), within SPEC G9's two.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import replace

from ..ews_soap import AuthenticationFailed, EwsError, ServerUnreachable, SubscriptionLost, Throttled
from .groups import Target
from .runners import MAILBOX_ERRORS, GroupRunner, _changes

log = logging.getLogger("portal.listener")


class PullRunner(GroupRunner):
    """Pull subscriptions (GetEvents) polled on a short interval: Exchange 2010 RTM, or beyond the connection limit."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.subs: dict[Target, object] = {}  # mailbox → Subscription (with its current watermark)
        self._refusals: Counter = Counter()
        self._ok_since = 0.0  # the first complete round after the last failed one

    def loop(self) -> None:
        session = self.session_factory()
        while not self.stopped:
            started = time.monotonic()
            self._take_update()
            wanted = set(self.group.members)
            self.subs = {t: s for t, s in self.subs.items() if t in wanted}
            for target in self.group.members:
                if self.stopped:
                    return
                if not self._skipped(target) and not self._poll_one(session, target):
                    self._ok_since = 0.0
                    break  # the server is unreachable or throttling: the whole round waits
            else:
                self._ok_since = self._ok_since or time.monotonic()
            self.last_data = time.monotonic()
            self.stop_event.wait(max(0.0, self._interval() - (time.monotonic() - started)))

    def stable_for(self) -> float:
        return time.monotonic() - self._ok_since if self._ok_since else 0.0

    def _interval(self) -> float:
        if self.group.key.startswith(("pull:fallback", "pull:over:")):
            return self.settings.fallback_pull_interval_seconds
        return self.settings.pull_interval_seconds

    def _poll_one(self, session, target: Target) -> bool:
        """One mailbox's events. False when the server itself failed (the round stops)."""
        try:
            sub = self.subs.get(target)
            if sub is None:
                sub = self.subs[target] = session.subscribe_pull(target.mailbox)
                self.stats["subscribed"] += 1
                self._catch_up([target], "new subscription")
            changed = 0
            while True:
                batch = session.get_events(target.mailbox, sub.subscription_id, sub.watermark)
                self.stats["polls"] += 1
                changed += _changes(batch.events)
                sub = self.subs[target] = _with_watermark(sub, batch.watermark)
                if not batch.more_events:
                    break
            if changed:
                self._notify(target, changed)
            self.backoff.succeeded()
            self._refusals.pop(target, None)
        except AuthenticationFailed:
            raise
        except SubscriptionLost as exc:
            log.warning("pull %s: subscription lost (%s); subscribing again", target.mailbox, exc.code)
            self.stats["lost"] += 1
            self.subs.pop(target, None)
            self._refusals[target] += 1
            if self._refusals[target] >= self.settings.step_down_after and self.step_down is None:
                self.step_down = ([target.mailbox], 1, exc.code or "ErrorInvalidSubscription")
        except MAILBOX_ERRORS as exc:
            self._mailbox_failed(target, exc)
        except (Throttled, ServerUnreachable) as exc:
            log.warning("pull round stopped: %s", exc)
            self.stats["errors"] += 1
            self._pause_after(exc)
            return False
        except EwsError as exc:
            log.warning("pull %s: %s", target.mailbox, exc)
            self.stats["errors"] += 1
        return True


def _with_watermark(sub, watermark):
    if not watermark or watermark == getattr(sub, "watermark", None):
        return sub
    return replace(sub, watermark=watermark)
