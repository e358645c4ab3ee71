"""S8/A2 at scale: what each main page asks the database does not grow with the organisation.

The same pages are fetched at 10 and at 200 staff; the number of SQL statements each one sends must be equal.
"""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db
from tests.conftest import login, make_user
from tests.web.org_scale import grow, week_start


@contextmanager
def counted():
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def pages(first_staff: int, hour: int) -> dict[str, tuple[str, str, dict | None]]:
    day = (week_start()).date()
    return {
        "Today": ("GET", "/day", None),
        "day view": ("GET", f"/day?location=1&date={day.isoformat()}", None),
        "day view, second page": ("GET", f"/day?location=1&date={day.isoformat()}&page=2", None),
        "week": ("GET", f"/schedule?staff={first_staff}", None),
        "calendar live poll": ("GET", "/schedule/changes", None),
        "booking form": ("GET", f"/appointments/new?staff={first_staff}", None),
        "booking form, anyone at the location": ("GET", f"/appointments/new?location=1&date={day.isoformat()}", None),
        "booking form, staff search without JS": ("POST", "/appointments/new", {
            "find": "staff", "staff_q": "staff0000", "staff_q_shown": "", "service": "1", "location": "1",
            "staff": [str(first_staff)], "clients": ["1"]}),
        "picker search (JSON)": ("GET", "/appointments/choices?kind=staff&q=staff&chosen=1", None),
        "free slots (JSON)": ("GET", "/appointments/slots?service=1&location=1", None),
        "edit form": ("GET", "/appointments/1/edit", None),
        "booking POST": ("POST", "/appointments/new", {
            "service": "1", "location": "1", "date": day.replace(year=day.year + 1).isoformat(),
            "time": f"{hour:02d}:00", "staff": [str(first_staff)], "clients": ["1"], "notes": ""}),
        "user accounts": ("GET", "/settings/integrations/exchange/accounts", None),
        "user accounts search": ("GET", "/settings/integrations/exchange/accounts?q=staff0000", None),
        "live refresh": ("GET", "/settings/integrations/exchange/accounts/states.json", None),
        "staff list": ("GET", "/admin/staff", None),
        "staff search": ("GET", "/admin/staff?q=staff00", None),
        "client list": ("GET", "/admin/clients", None),
        "client search": ("GET", "/admin/clients?q=client", None),
        "outbox": ("GET", "/settings/notifications/outbox", None),
        "activity": ("GET", f"/settings/integrations/exchange/accounts/{first_staff}/activity", None),
    }


def measure(client, first_staff: int, hour: int) -> dict[str, int]:
    out = {}
    for name, (method, url, data) in pages(first_staff, hour).items():
        client.get(url) if method == "GET" else None  # warm: first-request work is not the page's own
        with counted() as seen:
            resp = client.open(url, method=method, data=data)
        assert resp.status_code in (200, 302), (name, resp.status_code, resp.data[:300])
        out[name] = len(seen)
    return out


def test_s8_a2_page_queries_are_the_same_at_10_and_200_staff(app):
    from portal.models import ExchangeIntegration

    db.session.add(ExchangeIntegration(id=1, auth_type="ntlm", username="svc@example.com", version="2016",
                                       server_url="https://mail.example.com/EWS/Exchange.asmx", state="connected"))
    db.session.commit()
    client = app.test_client()
    login(client, make_user("admin@example.com", role="admin"))
    grow(10)
    small = measure(client, 1, hour=6)
    grow(200)
    large = measure(client, 1, hour=7)
    assert large == small, {k: (small[k], large[k]) for k in small if small[k] != large[k]}


def test_a2_week_view_queries_do_not_grow_with_the_appointments_shown(app):
    """One query per service/client/colleague was the week view's cost: now a busier week costs the same."""
    client = app.test_client()
    login(client, make_user("admin@example.com", role="admin"))
    grow(10, appointments_per_staff=2)
    with counted() as few:
        assert client.get("/schedule?staff=1").status_code == 200
    grow(20, appointments_per_staff=5)  # staff 11–20: five appointments each this week
    with counted() as many:
        assert client.get("/schedule?staff=11").status_code == 200
    assert len(many) == len(few)


def test_s8_user_accounts_tab_is_paged_searchable_and_refreshes_only_changed_rows(app):
    from datetime import timedelta

    from portal.models import MailboxState, utcnow

    client = app.test_client()
    login(client, make_user("admin@example.com", role="admin"))
    grow(120)
    base = "/settings/integrations/exchange/accounts"
    first, second = client.get(base).get_data(as_text=True), client.get(base + "?page=2").get_data(as_text=True)
    assert first.count("data-staff-id=") == 50 and "Staff 00000" in first and "Staff 00050" not in first
    assert "Staff 00050" in second and "Page 2 of 3" in second
    found = client.get(base + "?q=STAFF00117@").get_data(as_text=True)
    assert found.count("data-staff-id=") == 1 and "staff00117@example.com" in found
    db.session.execute(db.update(MailboxState).values(updated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    cursor = client.get(base + "/states.json").get_json()["cursor"]
    assert client.get(base + "/states.json", query_string={"since": cursor}).get_json()["rows"] == {}
    ms = db.session.get(MailboxState, 3)
    ms.state, ms.progress_imported = "initializing", 42
    db.session.commit()
    data = client.get(base + "/states.json", query_string={"since": cursor}).get_json()
    assert list(data["rows"]) == ["3"] and "42 imported" in data["rows"]["3"]["html"] and data["live"] is True
