"""U6: a server whose CalendarView returns the recurring master instead of its occurrences, or only some of
them — Sundial expands the series itself from the master's Recurrence, ModifiedOccurrences and
DeletedOccurrences (read with GetItem), in the series' time zone across DST, and says which path it took."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.sync_e2e.test_recurrence_dst import NY, day_name, local_start, local_starts, next_dst_change, weekly


def _series_id(world, who):
    return next(i for i in world.items(who) if i.recurrence).id


def reasons(world, who, rule):
    return [a.reason for a in world.activity(who, rule)]


def test_u6_master_instead_of_occurrences_is_expanded_by_sundial_across_dst(world):
    change = next_dst_change(NY)
    days = (change - datetime.now(UTC).date()).days + 21
    world.app.config["SYNC_HORIZON_DAYS"] = days
    world.sim.faults.calendar_view_unexpanded()
    start = local_start(NY, 2, 9)
    ol = world.outlook(world.alice)
    series = ol.create_recurring("Rounds", start, start + timedelta(hours=1), tz="America/New_York",
                                 days=[day_name(start)])
    model = weekly(start, datetime.now(UTC) + timedelta(days=days))
    moved, gone = model[1], model[2]
    ol.move_occurrence(series, moved, moved + timedelta(hours=3), moved + timedelta(hours=4), subject="Rounds late")
    ol.delete_occurrence(series, gone)
    world.initial(world.alice)
    got = local_starts(world, world.alice, NY)
    assert got == sorted([s for s in model if s not in (moved, gone)] + [moved + timedelta(hours=3)])
    assert len({s.utcoffset() for s in got}) == 2 and {s.hour for s in got} == {9, 12}  # 09:00 on both sides
    titles = {a.start.astimezone(NY): a.title for a in world.absences(world.alice)}
    assert titles[moved + timedelta(hours=3)] == "Rounds late"  # the exception's own subject, read with GetItem
    (why,) = reasons(world, world.alice, "U6")
    assert "without its occurrences; Sundial expanded it" in why and f"{len(got)} occurrences" in why


def test_u6_partial_expansion_is_completed_by_sundial(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 63
    world.sim.faults.calendar_view_partial()
    start = local_start(NY, 3, 15)
    world.outlook(world.bob).create_recurring("Clinic", start, start + timedelta(hours=1), tz="America/New_York",
                                              days=[day_name(start)], count=6)
    world.initial(world.bob)
    assert local_starts(world, world.bob, NY) == weekly(start, datetime.now(UTC) + timedelta(days=63), 6)
    (why,) = reasons(world, world.bob, "U6")
    assert "only 3 of 6 occurrences" in why and "other 3" in why
    world.sim.faults.calendar_view_partial(False)  # the server heals: nothing doubles, nothing is removed
    ol = world.outlook(world.bob)
    ol.rename(_series_id(world, world.bob), "Clinic (renamed)")
    world.sync(world.bob)
    assert len(world.absences(world.bob)) == 6 and {a.title for a in world.absences(world.bob)} == {"Clinic (renamed)"}
    assert "expanded by Exchange: 6 occurrences" in reasons(world, world.bob, "U4")[-1]


def test_u6_a_series_with_nothing_in_the_horizon_never_claims_an_expansion(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 14
    world.sim.faults.calendar_view_unexpanded()
    start = local_start(NY, 2, 9) + timedelta(days=35)  # begins after the horizon
    world.outlook(world.alice).create_recurring("Later", start, start + timedelta(hours=1), tz="America/New_York",
                                                days=[day_name(start)], count=3)
    world.initial(world.alice)
    assert world.absences(world.alice) == []
    logged = [a.reason for a in world.activity(world.alice) if a.subject == "Later"]
    assert logged and all("expanded" not in r for r in logged) and "nothing to import" in logged[-1]


def _next_31st(at_least_days: int = 3):
    d = datetime.now(NY).date() + timedelta(days=at_least_days)
    while d.day != 31:
        d += timedelta(days=1)
    return d


def test_u6_monthly_on_the_31st_agrees_with_the_server_no_phantom_occurrences(world):
    """Sundial's expansion always runs beside the server's: where they agree nothing is added (path "server")."""
    world.app.config["SYNC_HORIZON_DAYS"] = 200
    day = _next_31st()
    start = datetime(day.year, day.month, day.day, 10, tzinfo=NY)
    world.outlook(world.alice).create_recurring("Month end", start, start + timedelta(hours=1),
                                                tz="America/New_York", pattern="Monthly", count=4)
    world.initial(world.alice)
    got = [s.date() for s in local_starts(world, world.alice, NY)]
    assert len(got) == 4 and got[0] == day
    assert any(d.day < 31 for d in got)  # a shorter month: its last day, as Outlook schedules it
    assert reasons(world, world.alice, "U6") == []
    assert "expanded by Exchange: 4 occurrences" in reasons(world, world.alice, "U4")[-1]
