"""When the soak fails: what each side holds for every lost appointment and mailbox, written beside the logs."""
from __future__ import annotations

import re


def diagnose(app, system, lost: list[str], path) -> None:
    from portal.extensions import db
    from portal.models import Appointment, AppointmentChange, ExchangeLink, MailboxState, SyncActivity

    ids = sorted({int(m) for line in lost for m in re.findall(r"appointment (\d+)", line)})
    out = []
    with app.app_context():
        for appt_id in ids:
            appt = db.session.get(Appointment, appt_id)
            out.append(f"== appointment {appt_id}: {appt.status} {appt.start} staff {[s.id for s in appt.staff]}")
            for c in db.session.execute(db.select(AppointmentChange).filter_by(appointment_id=appt_id)).scalars():
                out.append(f"   change {c.kind} created {c.created_at} exported {c.exported_at}")
            for link in db.session.execute(db.select(ExchangeLink).filter_by(appointment_id=appt_id)).scalars():
                out.append(f"   link staff {link.staff_id} item {(link.item_id or '')[-16:]} synced {link.synced_at}")
        for ms in db.session.execute(db.select(MailboxState)).scalars():
            out.append(f"== mailbox of staff {ms.staff_id}: {ms.state} failures {ms.failures} error {ms.last_error} "
                       f"throttled until {ms.throttled_until} next attempt {ms.next_attempt_at}")
        for row in db.session.execute(db.select(SyncActivity).order_by(SyncActivity.id)).scalars():
            out.append(f"   {row.at:%H:%M:%S} staff {row.staff_id} {row.action} {row.rule} {row.subject}: {row.reason}")
    for mailbox in system.mailboxes:
        try:
            items = system.control("outlook", "items", mailbox)
        except Exception as exc:  # noqa: BLE001 - report what we can
            items = [f"(could not read: {exc})"]
        out.append(f"== {mailbox} in Exchange: {items}")
    path.write_text("\n".join(out) + "\n")
