"""S3/S13 against the simulator: Authorize names the build and its support on the Configuration tab; the daily
build check audits an update (2019 → Exchange Server SE) and runs Authorize's checks again."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ews_simulator.testing import running_simulator
from portal.extensions import db
from portal.models import AuditEvent, ExchangeIntegration, utcnow
from tests.conftest import login
from tests.web.exchange_helpers import add_staff
from tests.web.test_exchange_authorize_sim import BASE, data_for, populate


@pytest.fixture
def admin(app, client, admin_user, queue_redis):
    app.config["EXCHANGE_PROBE_TIMEOUT"] = (3, 10)
    add_staff("Alice Able", "alice@example.com")
    return login(client, admin_user)


def test_s3_s13_authorize_against_exchange_server_se(admin):
    with running_simulator(version="SE", auth="ntlm") as se:
        populate(se)
        resp = admin.post(BASE + "/authorize", data=data_for(se, version="SE"))
        assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
        assert ExchangeIntegration.get().version == "SE"
        html = admin.get(BASE + "/").get_data(as_text=True)
        assert "Exchange Server SE RTM (build 15.2.2562.17) is supported by Microsoft" in html
        assert 'data-supported="yes"' in html and "Signed in with NTLM." in html
        assert "Exchange Server SE</option>" in html


def test_s13_unsupported_build_is_said_on_the_configuration_tab(admin):
    with running_simulator(version="2019", auth="ntlm") as old:
        populate(old)
        assert admin.post(BASE + "/authorize", data=data_for(old, version="2019")).status_code == 302
        html = admin.get(BASE + "/").get_data(as_text=True)
        assert "Exchange 2019 CU12 (build 15.2.1118.7) is no longer supported by Microsoft" in html
        assert 'data-supported="no"' in html


def test_s13_daily_build_check_audits_an_update_and_reruns_the_checks(app, admin):
    from portal.jobs import build_check

    with running_simulator(version="2019", auth="ntlm") as sim:
        populate(sim)
        assert admin.post(BASE + "/authorize", data=data_for(sim, version="2019")).status_code == 302
        assert build_check.run() == "build unchanged (15.2.1118.7)"
        assert not build_check.enqueue_if_due()  # checked just now: not due for a day
        sim.faults.pose_as("SE")  # Exchange was updated overnight
        integ = ExchangeIntegration.get()
        integ.build_checked_at = utcnow() - timedelta(hours=25)
        db.session.commit()
        assert build_check.enqueue_if_due()
        impersonated_before = sum(1 for r in sim.requests if r.mailbox == "alice@example.com")
        detail = build_check.run()
        assert detail == ("Exchange was updated: Exchange 2019 CU12 (15.2.1118.7) → Exchange Server SE RTM "
                          "(15.2.2562.17). Authorize's checks ran again and passed.")
        assert sum(1 for r in sim.requests if r.mailbox == "alice@example.com") > impersonated_before
        event = AuditEvent.query.filter_by(action="exchange_updated").one()
        assert event.detail == detail
        db.session.expire_all()
        assert ExchangeIntegration.get().server_version_reported == "15.2.2562.17"
        html = admin.get(BASE + "/audit").get_data(as_text=True)
        assert "Exchange was updated (daily build check)" in html
