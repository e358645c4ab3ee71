"""Browser test (headless Chromium): a new admin connects the demo organisation to the EWS simulator using only
the pages — Autodiscover fills the address, a wrong password reads as one sentence, Authorize starts the
initial sync, and the User Accounts tab moves every demo staff member to "synced" without a reload (S2–S8).

A real RQ worker (RQ's SimpleWorker, in a thread with the app context) runs the sync engine's initial-sync jobs
against the simulator over HTTP + NTLM. Screenshots go to test-artifacts/exchange-*.png.
"""
from __future__ import annotations

import re
import threading

import pytest

from ews_simulator.testing import running_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN, PASSWORD = "admin@sundial-demo.test", "Sundial-Demo-2026!"
SERVICE_UPN, SERVICE_PASSWORD = "svc-sundial@sundial-demo.test", "Demo-Exchange-2026!"
DEMO_STAFF_USED = 6  # the first demo staff members take appointments here; the others are switched off


def _seed(app, redis_url):
    from portal.demo import seed
    from portal.extensions import db
    from portal.models import StaffMember

    with app.app_context():
        list(seed())
        staff = db.session.execute(db.select(StaffMember).order_by(StaffMember.id)).scalars().all()
        for extra in staff[DEMO_STAFF_USED:]:  # keep the run short on a shared 2-core machine
            extra.takes_appointments = False
        db.session.commit()
        return [(s.id, s.name) for s in staff[:DEMO_STAFF_USED]]


class Worker(threading.Thread):
    """Drains the queues with RQ's SimpleWorker in burst mode, again and again, until stopped."""

    def __init__(self, app):
        super().__init__(name="rq-burst-worker", daemon=True)
        self.app, self.stop, self.error = app, threading.Event(), None

    def run(self):
        from rq import SimpleWorker
        from rq.registry import FailedJobRegistry
        from rq.timeouts import TimerDeathPenalty

        from portal.extensions import db
        from portal.jobs.queues import QUEUE_NAMES, get_queue, redis_connection

        class BurstWorker(SimpleWorker):
            death_penalty_class = TimerDeathPenalty  # SIGALRM works only in the main thread

            def _install_signal_handlers(self):  # signals belong to the main thread (the browser test's)
                pass

            def subscribe(self):  # no pub/sub control thread in a test
                pass

            def unsubscribe(self):
                pass

        try:
            with self.app.app_context():
                queues = [get_queue(n) for n in QUEUE_NAMES]
                while not self.stop.wait(0.3):
                    BurstWorker(queues, connection=redis_connection()).work(burst=True, with_scheduler=False)
                    db.session.remove()
                    for q in queues:
                        for job_id in FailedJobRegistry(queue=q).get_job_ids():
                            raise AssertionError(f"job {job_id} failed: {q.fetch_job(job_id).latest_result()}")
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _counts(page) -> dict[str, int]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-count]')]
        .map(a => [a.dataset.count, parseInt(a.querySelector('b').textContent, 10)]))""")


def _wait_all_synced(page, worker, n: int) -> None:
    for _ in range(300):  # bounded wait (≤ 5 min on a busy machine), not a timing assertion
        if _counts(page).get("synced") == n or not worker.is_alive():
            break
        page.wait_for_timeout(1000)
    assert worker.error is None, worker.error
    assert _counts(page)["synced"] == n, _counts(page)


def _pause_and_resume(page, base, sim, worker, staff, screenshot) -> None:
    """G4: Active Directory locks the service account; the next sync is refused, the whole integration
    pauses with the banner on every admin page; after the unlock one Authorize resumes everyone."""
    sim.faults.lockout(threshold=1, window_s=60, duration_s=600)
    page.goto(base + "/settings/integrations/exchange/")
    page.fill("#password", "Typo-Password-2")  # one bad logon locks it (threshold 1)
    page.click("#authorize")
    page.wait_for_selector("#authorize-failure")
    assert page.locator("#connected-summary").is_visible()  # the working configuration stays in force (S6)

    page.goto(base + "/settings/integrations/exchange/accounts")
    page.click(f'tr[data-staff-id="{staff[0][0]}"] button:has-text("Re-sync")')
    for _ in range(120):  # bounded wait for the worker to meet the 401
        page.goto(base + "/settings/integrations/exchange/")
        if page.locator(".banner-danger").count() or not worker.is_alive():
            break
        page.wait_for_timeout(1000)
    assert "Exchange rejected the service account's password" in page.inner_text(".banner-danger")
    assert page.locator("#paused-explainer").is_visible()
    assert page.locator("[data-integration-state=paused]").is_visible()
    screenshot(page, "exchange-07-paused")

    sim.unlock(sim.service_account.upn)  # the Exchange administrator unlocks the account
    sim.faults.clear()
    # S10: the stored password drew the worker's 401 (the account was locked), so Sundial sends it again only
    # when the admin states the account was unlocked; blank password = the stored one (S5)
    page.check("#resend_password")
    page.click("#authorize")
    page.wait_for_url(base + "/settings/integrations/exchange/accounts")
    assert page.locator(".banner-danger").count() == 0
    assert f"syncing resumed for {len(staff)} staff calendars" in page.inner_text(".flashes")
    _wait_all_synced(page, worker, len(staff))
    screenshot(page, "exchange-08-resumed", full_page=False)


def test_s2_s8_admin_connects_the_demo_organisation_in_the_browser(live_app, live_server, browser_page,
                                                                      screenshot, redis_url):
    page, base, app = browser_page, live_server.url, live_server.app
    with running_simulator(version="2019", auth="ntlm", seed="demo") as sim:
        app.config.update(REDIS_URL=redis_url.rsplit("/", 1)[0] + "/9", EXCHANGE_AUTODISCOVER_STANDARD=False,
                          EXCHANGE_AUTODISCOVER_CANDIDATES=[sim.autodiscover_url])
        app.extensions.pop("sundial_redis", None)
        with app.app_context():
            from portal.jobs.queues import redis_connection

            redis_connection().flushdb()
        staff = _seed(app, redis_url)

        page.goto(base + "/login")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/(day|schedule)\b.*"))
        page.goto(base + "/settings/integrations/exchange/")
        assert page.locator("[data-integration-state=disconnected]").is_visible()
        screenshot(page, "exchange-01-configuration-empty")

        # Autodiscover (S4, S10): the user name alone gives the domain's guess; typing the password sends nothing
        # (a typo typed here must never count towards the lockout); Authorize runs the authenticated lookup.
        page.fill("#username", SERVICE_UPN)
        page.locator("#password").click()  # blur → lookup
        page.wait_for_selector("#server-url-note.guessed")
        assert page.input_value("#server_url") == "https://mail.sundial-demo.test/EWS/Exchange.asmx"
        page.fill("#password", SERVICE_PASSWORD)
        page.locator("#display_name").click()  # change: no second lookup, the password stays in the browser
        assert page.input_value("#server_url") == "https://mail.sundial-demo.test/EWS/Exchange.asmx"
        page.locator("label.switch:has(#allow_http)").click()  # the simulator speaks plain http (lab)
        page.select_option("#version", "2019")
        page.fill("#display_name", "Head Office Exchange")
        screenshot(page, "exchange-02-configuration-filled")

        page.fill("#password", "Wrong-Password-1")
        page.click("#authorize")  # wrong password: one sentence, nothing saved (S6)
        page.wait_for_selector("#authorize-failure")
        assert "Exchange rejected the user name or password" in page.inner_text("#authorize-failure")
        assert page.input_value("#password") == ""  # never rendered back (S5)
        assert page.input_value("#server_url") == "https://mail.sundial-demo.test/EWS/Exchange.asmx"
        assert sim.failed_signins(SERVICE_UPN) == 1  # the whole action: one failed sign-in (S10)
        screenshot(page, "exchange-03-authorize-failed")

        page.fill("#password", SERVICE_PASSWORD)
        page.click("#authorize")  # Autodiscover inside Authorize finds the simulator's EWS address
        page.wait_for_url(base + "/settings/integrations/exchange/accounts")
        assert f"first sync of {len(staff)} staff calendars has started" in page.inner_text(".flashes")
        assert page.locator("#accounts thead th", has_text="Head Office Exchange").count() == 1
        assert _counts(page)["initializing"] == len(staff)
        screenshot(page, "exchange-04-accounts-initializing")

        worker = Worker(app)
        worker.start()
        try:
            # The tab polls its JSON states and updates rows in place: no reload happens here.
            page.evaluate("window.__sameDocument = true")
            _wait_all_synced(page, worker, len(staff))
            assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
            for staff_id, name in staff:
                row = page.locator(f'tr[data-staff-id="{staff_id}"]')
                assert row.locator('[data-state="synced"]').count() == 1, name
                assert "Last sync" in row.inner_text()
            page.wait_for_selector("#live-indicator", state="hidden")
            screenshot(page, "exchange-05-accounts-synced")

            page.click(f'tr[data-staff-id="{staff[0][0]}"] a:has-text("Activity")')
            page.wait_for_selector("#activity")
            assert page.locator("#activity tbody tr").count() > 1
            screenshot(page, "exchange-06-activity", full_page=False)
            page.select_option("select[name=action]", "skipped")  # "why isn't my meeting in Sundial?"
            page.wait_for_url(re.compile(r"action=skipped"))
            reasons = page.inner_text("#activity tbody")
            assert "skipped" in reasons and "imported" not in reasons
            screenshot(page, "exchange-06b-activity-skipped", full_page=False)

            _pause_and_resume(page, base, sim, worker, staff, screenshot)
        finally:
            worker.stop.set()
            worker.join(60)
        assert worker.error is None, worker.error

        page.goto(base + "/settings/integrations/exchange/audit")
        audit = page.inner_text("#audit")
        assert "Authorized" in audit and "Authorize failed" in audit and "password changed" in audit
        assert "Resumed with" in audit
        assert SERVICE_PASSWORD not in page.content() and "Wrong-Password-1" not in page.content()
        screenshot(page, "exchange-09-audit")

        page.goto(base + "/settings/integrations/exchange/")
        assert page.locator("#connected-summary").is_visible()
        screenshot(page, "exchange-10-configuration-connected")
        page.click("text=Disconnect…")
        screenshot(page, "exchange-11-disconnect-confirm")
        page.click("#confirm-disconnect")
        page.wait_for_url(base + "/settings/integrations/exchange/")
        assert "nothing was removed from Sundial or from Exchange" in page.inner_text(".flashes")
        assert page.locator("[data-integration-state=disconnected]").is_visible()
