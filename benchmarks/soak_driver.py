"""The soak's people: an admin booking, rescheduling and cancelling in Sundial through HTTP (the real forms with
their CSRF tokens), and staff changing their calendars in "Outlook" (the simulator's control API).

Every change is recorded with what must become true on the other side; `observe()` checks the pending ones and
stamps when each arrived. Slots never repeat, so a time identifies an item on both sides.
"""
from __future__ import annotations

import http.client
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

SERVICE = "Soak advice"  # the service's name is the exported item's subject
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Change:
    kind: str  # book, reschedule, cancel (Sundial → Exchange); outlook_create, outlook_move, outlook_delete
    mailbox: str
    staff_id: int
    made_at: float
    start: datetime | None  # where the item must now be (None: nowhere)
    gone: datetime | None = None  # where it must no longer be
    subject: str = SERVICE
    entity: str = ""  # the appointment or Outlook event changed: a later change of it supersedes this one
    arrived_at: float | None = None


@dataclass
class Booking:
    appointment_id: int
    staff_id: int
    mailbox: str
    start: datetime
    cancelled: bool = False


@dataclass
class Driver:
    system: object
    app: object
    staff: list  # (staff id, mailbox)
    ids: dict  # service, location, client
    rng: random.Random
    changes: list = field(default_factory=list)
    bookings: list = field(default_factory=list)
    outlook: dict = field(default_factory=dict)  # subject -> (mailbox, staff id, start or None when deleted)
    http_errors: list = field(default_factory=list)
    anomalies: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _slot: int = 0

    def __post_init__(self):
        self.http = requests.Session()
        self.base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)

    def next_slot(self, outlook: bool) -> datetime:
        """Sundial's slots at 08:00–15:00, Outlook's at 16:00–21:00 UTC, a new one each time."""
        self._slot += 1
        day, hour = divmod(self._slot, 6)
        return self.base + timedelta(days=day, hours=(16 if outlook else 8) + hour)

    # ---- HTTP ----------------------------------------------------------------------------------------------------
    def _csrf(self, path: str) -> str:
        page = self.http.get(self.system.web_url + path, timeout=30)
        match = CSRF.search(page.text)
        if not match:
            raise RuntimeError(f"no CSRF token on {path} ({page.status_code})")
        return match.group(1)

    def _post(self, path: str, data: dict, token_from: str):
        data = {**data, "csrf_token": self._csrf(token_from)}
        resp = self.http.post(self.system.web_url + path, data=data, timeout=60, allow_redirects=False)
        if resp.status_code >= 500:
            self.http_errors.append(f"{path}: HTTP {resp.status_code}")
        return resp

    def login(self) -> None:
        from soak_system import ADMIN

        resp = self._post("/login", {"email": ADMIN[0], "password": ADMIN[1]}, "/login")
        if resp.status_code != 302:
            raise RuntimeError(f"the admin could not sign in (HTTP {resp.status_code})")

    def _form(self, staff_id: int, start: datetime, notes: str = "") -> dict:
        return {"service": self.ids["service"], "location": self.ids["location"], "date": start.date().isoformat(),
                "time": start.strftime("%H:%M"), "duration": "30", "staff": [staff_id],
                "clients": [self.ids["client"]], "notes": notes}

    def book(self) -> None:
        staff_id, mailbox = self.rng.choice(self.staff)
        start, tag = self.next_slot(False), f"soak-{self._slot}"
        if self._post("/appointments/new", self._form(staff_id, start, tag), "/appointments/new").status_code != 302:
            return
        from portal.extensions import db
        from portal.models import Appointment

        with self.app.app_context():
            appt_id = db.session.execute(db.select(Appointment.id).filter_by(notes=tag)).scalar_one()
        with self.lock:
            self.bookings.append(Booking(appt_id, staff_id, mailbox, start))
            self.changes.append(Change("book", mailbox, staff_id, time.monotonic(), start, entity=f"a{appt_id}"))

    def reschedule(self) -> None:
        live = [b for b in self.bookings if not b.cancelled]
        if not live:
            return self.book()
        b = self.rng.choice(live)
        start = self.next_slot(False)
        path = f"/appointments/{b.appointment_id}/edit"
        if self._post(path, self._form(b.staff_id, start, f"soak-moved-{self._slot}"), path).status_code != 302:
            return None
        with self.lock:
            old, b.start = b.start, start
            self.changes.append(Change("reschedule", b.mailbox, b.staff_id, time.monotonic(), start, gone=old,
                                       entity=f"a{b.appointment_id}"))
        return None

    def cancel(self) -> None:
        live = [b for b in self.bookings if not b.cancelled]
        if not live:
            return self.book()
        b = self.rng.choice(live)
        path = f"/appointments/{b.appointment_id}/cancel"
        if self._post(path, {}, f"/appointments/{b.appointment_id}").status_code != 302:
            return None
        with self.lock:
            b.cancelled = True
            self.changes.append(Change("cancel", b.mailbox, b.staff_id, time.monotonic(), None, gone=b.start,
                                       entity=f"a{b.appointment_id}"))
        return None

    # ---- Outlook ---------------------------------------------------------------------------------------------------
    def outlook_create(self) -> None:
        staff_id, mailbox = self.rng.choice(self.staff)
        start, subject = self.next_slot(True), f"Outlook {self._slot}"
        self.system.control("outlook", "create", mailbox, subject=subject, start=start.isoformat(),
                            end=(start + timedelta(minutes=45)).isoformat())
        with self.lock:
            self.outlook[subject] = (mailbox, staff_id, start)
            self.changes.append(Change("outlook_create", mailbox, staff_id, time.monotonic(), start, subject=subject,
                                       entity=subject))

    def _outlook_item(self, subject: str, mailbox: str):
        items = self.system.control("outlook", "items", mailbox)
        return next((i for i in items if i["subject"] == subject), None)

    def outlook_move_or_delete(self) -> None:
        live = [(s, v) for s, v in self.outlook.items() if v[2] is not None]
        if not live:
            return self.outlook_create()
        subject, (mailbox, staff_id, old) = self.rng.choice(live)
        item = self._outlook_item(subject, mailbox)
        if item is None:  # nobody but this driver deletes it: a finding, reported with the calendar's contents
            items = self.system.control("outlook", "items", mailbox)
            self.anomalies.append(f"Outlook event {subject} ({old}) vanished from {mailbox}: "
                                  f"{[(i['subject'], i['start']) for i in items]}")
            with self.lock:
                self.outlook[subject] = (mailbox, staff_id, None)
            return None
        if self.rng.random() < 0.5:
            start = self.next_slot(True)
            self.system.control("outlook", "move", mailbox, item_id=item["id"], start=start.isoformat(),
                                end=(start + timedelta(minutes=45)).isoformat())
            kind = "outlook_move"
        else:
            self.system.control("outlook", "delete", mailbox, item_id=item["id"])
            start, kind = None, "outlook_delete"
        with self.lock:
            self.outlook[subject] = (mailbox, staff_id, start)
            self.changes.append(Change(kind, mailbox, staff_id, time.monotonic(), start, gone=old, subject=subject,
                                       entity=subject))
        return None

    def act(self) -> None:
        """One random action; a side that is down right now (a fault) just means this action did not happen."""
        action = self.rng.choice([self.book, self.book, self.reschedule, self.cancel, self.outlook_create,
                                  self.outlook_move_or_delete])
        try:
            action()
        except (requests.RequestException, OSError, RuntimeError, http.client.HTTPException) as exc:
            # a cut-off answer of the simulator's control endpoint (dropped-response storm, restart) is a fault
            # the action met, like a refused connection: it did not happen, or happened unrecorded
            if "csrf" in str(exc).lower() or "sign in" in str(exc):
                self.http_errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - the driver must outlive its own surprises; they are reported
            self.anomalies.append(f"{action.__name__}: {type(exc).__name__}: {exc}")
