"""An organisation of any size for page-cost tests and benchmarks/bench_pages.py: staff with mailbox states,
appointments (with a client), Exchange absences, sync activity and outbox rows, written with bulk INSERTs."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

STATES = ("synced", "synced", "synced", "initializing", "throttled", "error", "excluded")


def week_start() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=today.weekday())


def grow(total_staff: int, appointments_per_staff: int = 3) -> None:
    """Add staff (and their rows) until there are `total_staff`; services and clients grow along."""
    from portal.extensions import db
    from portal.models import (
        Appointment,
        Client,
        ExternalAbsence,
        Location,
        MailboxState,
        OutboxMessage,
        Service,
        StaffMember,
        SyncActivity,
        appointment_clients,
        appointment_staff,
        staff_locations,
    )

    have = db.session.execute(select(func.count(StaffMember.id))).scalar()
    if have >= total_staff:
        return
    loc = db.session.execute(select(Location).limit(1)).scalar()
    if loc is None:
        loc = Location(name="HQ", address="1 Main Street", timezone="UTC")
        db.session.add(loc)
        db.session.flush()
    new = range(have, total_staff)
    ex = db.session.execute
    ex(insert(Service), [{"name": f"Service {n}", "duration_minutes": 30} for n in new])
    ex(insert(Client), [{"name": f"Client {n}", "email": f"client{n}@example.net"} for n in new])
    ex(insert(StaffMember), [{"name": f"Staff {n:05d}", "email": f"staff{n:05d}@example.com", "timezone": "UTC",
                              "primary_location_id": loc.id} for n in new])
    staff = ex(select(StaffMember.id).order_by(StaffMember.id).offset(have)).scalars().all()
    services = ex(select(Service.id).order_by(Service.id)).scalars().all()
    clients = ex(select(Client.id).order_by(Client.id)).scalars().all()
    ex(insert(staff_locations), [{"staff_id": s, "location_id": loc.id} for s in staff])
    ex(insert(MailboxState), [{"staff_id": s, "state": STATES[s % len(STATES)], "excluded": s % 7 == 6,
                               "progress_total": 300, "progress_imported": 100} for s in staff])
    base = week_start() + timedelta(hours=8)
    rows = []
    for k in range(len(staff)):
        for j in range(appointments_per_staff):
            start = base + timedelta(days=(j % 5) - 7 * (j // 5), hours=(j // 5) % 8)  # this week, then earlier
            rows.append({"service_id": services[(k + j) % len(services)], "location_id": loc.id,
                         "start": start, "end": start + timedelta(minutes=30), "status": "booked"})
    first = ex(select(func.coalesce(func.max(Appointment.id), 0))).scalar()
    ex(insert(Appointment), rows)
    ids = ex(select(Appointment.id).where(Appointment.id > first).order_by(Appointment.id)).scalars().all()
    per = appointments_per_staff
    ex(insert(appointment_staff), [{"appointment_id": a, "staff_id": staff[i // per]} for i, a in enumerate(ids)])
    ex(insert(appointment_clients), [{"appointment_id": a, "client_id": clients[i % len(clients)]}
                                     for i, a in enumerate(ids)])
    ex(insert(ExternalAbsence), [{"staff_id": s, "location_id": loc.id, "start": base + timedelta(days=1, hours=3),
                                  "end": base + timedelta(days=1, hours=4), "title": "Exchange meeting"}
                                 for s in staff])
    ex(insert(SyncActivity), [{"staff_id": s, "action": "imported", "rule": "G1", "reason": "busy in Exchange",
                               "subject": "Exchange meeting", "delay_seconds": 1.5} for s in staff])
    ex(insert(OutboxMessage), [{"audience": "client", "recipient": f"client{n}@example.net", "subject": "Booked",
                                "body": "See you", "appointment_id": ids[i * per], "status": "sent"}
                               for i, n in enumerate(new)])
    db.session.commit()
