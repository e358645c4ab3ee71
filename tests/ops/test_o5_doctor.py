"""O5: the connection doctor against the EWS simulator (HTTP + NTLM, nothing faked): each step timed; each
failure one sentence and the Exchange Management Shell command that fixes it; the stored password is sent at
most once and never when it is known to be rejected (S10)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from ews_simulator.testing import running_simulator
from portal.crypto import encrypt
from portal.ews_soap.transport import close_pools
from portal.extensions import db
from portal.models import ExchangeIntegration, StaffMember
from portal.ops.doctor import Clock
from portal.ops.doctor.exchange import run_doctor
from tests.conftest import free_port, make_user
from tests.web.exchange_helpers import csrf_token, login_with_csrf

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm") as s:
        s.add_mailbox(s.service_account.upn, name="Sundial service")
        s.add_mailbox(ALICE, name="Alice Able")
        s.add_mailbox(BOB, name="Bob Baker")
        s.grant(ALICE, s.service_account.upn, "editor")
        yield s


@pytest.fixture(autouse=True)
def _clean(sim):
    sim.faults.clear()
    sim.set_impersonation(sim.service_account.upn, True)
    sim.unlock(sim.service_account.upn)
    yield
    close_pools()


def configure(sim, app, **over):
    acc = sim.service_account
    values = dict(id=1, auth_type="ntlm", username=acc.upn, password_encrypted=encrypt(acc.password),
                  version="2016", server_url=sim.url, allow_http=True, impersonation=True, state="connected")
    values.update(over)
    db.session.add(ExchangeIntegration(**values))
    for name, email in (("Alice Able", ALICE), ("Bob Baker", BOB)):
        db.session.add(StaffMember(name=name, email=email, timezone="UTC", takes_appointments=True))
    db.session.commit()


def by_name(report) -> dict:
    out: dict = {}
    for s in report.steps:
        out.setdefault(s.name, []).append(s)
    return out


def test_o5_every_step_passes_against_a_healthy_server_and_is_timed(app, ops_redis, sim):
    configure(sim, app)
    report = run_doctor()
    steps = by_name(report)
    assert report.ok, report.lines()
    for name in ("dns", "tcp", "schemes", "signin", "build", "calendar", "throttling", "subscribe"):
        assert steps[name][0].ok is True, (name, report.lines())
    assert steps["tls"][0].ok is None  # plain http (lab): nothing to check, said so
    assert [s.ok for s in steps["rights"]] == [True, True]
    assert "Ntlm" in steps["schemes"][0].sentence and "NTLM" in steps["signin"][0].sentence
    assert "2016" in steps["build"][0].sentence
    assert all(s.seconds >= 0 for s in report.steps) and steps["signin"][0].seconds > 0
    print(f"O5: doctor against the simulator took {sum(s.seconds for s in report.steps) * 1000:.0f} ms")


def test_o5_flask_sundial_doctor_prints_the_steps(app, ops_redis, sim):
    configure(sim, app)
    out = CliRunner().invoke(app.cli, ["sundial", "doctor", "--sample", "1"])
    assert out.exit_code == 0, out.output
    assert "Sign-in" in out.output and "All checks passed." in out.output and " ms " in out.output


def test_o5_impersonation_denied_names_the_role_assignment(app, ops_redis, sim):
    configure(sim, app)
    sim.set_impersonation(sim.service_account.upn, False)
    report = run_doctor()
    rights = by_name(report)["rights"]
    assert not report.ok and rights[0].ok is False
    assert "may not impersonate alice@example.com" in rights[0].sentence
    assert "New-ManagementRoleAssignment" in rights[0].fix and "-Role ApplicationImpersonation" in rights[0].fix
    assert by_name(report)["subscribe"][0].ok is False


def test_o5_delegate_without_calendar_rights_names_the_folder_permission(app, ops_redis, sim):
    configure(sim, app, impersonation=False)
    report = run_doctor()
    alice, bob = by_name(report)["rights"]
    assert alice.ok is True and bob.ok is False
    assert bob.fix.startswith("Add-MailboxFolderPermission -Identity bob@example.com:\\Calendar -User ")
    assert by_name(report)["subscribe"][0].ok is None  # delegate access cannot subscribe: skipped with a reason


def test_o5_a_rejected_password_is_sent_once_then_never_again(app, ops_redis, sim):
    configure(sim, app, password_encrypted=encrypt("not the password"))
    failures = sim.server.app.auth._failures  # the simulated directory's bad-password attempts per account
    upn = sim.service_account.upn.lower()
    report = run_doctor()
    signin = by_name(report)["signin"][0]
    assert signin.ok is False and "rejected" in signin.sentence and "Unlock-ADAccount" in signin.fix
    assert "rights" not in by_name(report)  # nothing else tried after the rejection
    assert ExchangeIntegration.get().state == "paused"  # G4: no other part of Sundial sends it either
    assert len(failures[upn]) == 1  # one admin action, one failed sign-in (S10)
    again = run_doctor()
    assert by_name(again)["signin"][0].ok is None and "rejected" in by_name(again)["signin"][0].sentence
    assert len(failures[upn]) == 1  # the second run sent no password


def test_o5_basic_configured_but_only_ntlm_offered(app, ops_redis, sim):
    configure(sim, app, auth_type="basic")
    step = by_name(run_doctor())["schemes"][0]
    assert step.ok is False and "does not offer Basic" in step.sentence and "Ntlm" in step.sentence
    assert "Set-WebServicesVirtualDirectory" in step.fix


def test_o5_nothing_listening_and_unknown_host(app, ops_redis, sim):
    configure(sim, app, server_url=f"http://127.0.0.1:{free_port()}/EWS/Exchange.asmx")
    report = run_doctor()
    assert by_name(report)["dns"][0].ok is True and by_name(report)["tcp"][0].ok is False
    assert "Nothing answers on 127.0.0.1" in by_name(report)["tcp"][0].sentence
    ExchangeIntegration.get().server_url = "http://no-such-host.invalid/EWS/Exchange.asmx"
    db.session.commit()
    report = run_doctor()
    assert by_name(report)["dns"][0].ok is False and "does not resolve" in by_name(report)["dns"][0].sentence
    assert [s.name for s in report.steps] == ["dns"]


def test_o5_throttling_in_force_is_a_failed_step(app, ops_redis, sim):
    from portal.engine.throttle import RedisGate

    configure(sim, app)
    RedisGate.for_integration(ExchangeIntegration.get()).backoff(120)
    step = by_name(run_doctor())["throttling"][0]
    assert step.ok is False and "back-off" in step.sentence and "New-ThrottlingPolicy" in step.fix


def test_o5_strict_total_time(app, ops_redis, sim):
    configure(sim, app)
    report = run_doctor(clock=Clock(0))
    assert report.steps[0].ok is None and "ran out of time" in report.steps[0].sentence


def test_o5_check_connection_button_shows_the_report(csrf_app, ops_redis, sim):
    configure(sim, csrf_app)
    admin = make_user("ops-admin@example.test", role="admin")
    client = login_with_csrf(csrf_app.test_client(), admin)
    page = client.get("/settings/integrations/exchange/").get_data(as_text=True)
    assert 'id="check-connection"' in page
    assert client.post("/settings/integrations/exchange/check-connection").status_code == 400  # no CSRF token
    resp = client.post("/settings/integrations/exchange/check-connection", data={"csrf_token": csrf_token(page)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="doctor-report"' in html
    assert 'data-step="signin" data-ok="yes"' in html and 'data-step="subscribe" data-ok="yes"' in html


def test_o5_tls_chain_with_the_stored_ca_and_without_it(app, ops_redis):
    """https with the simulator's own CA: trusted when the CA is stored (and Extended Protection's channel binding
    rides the sign-in), refused with one sentence and the certificate command when it is not."""
    with running_simulator(version="2016", auth="ntlm", tls=True) as tls_sim:
        tls_sim.add_mailbox(tls_sim.service_account.upn, name="Sundial service")
        tls_sim.add_mailbox(ALICE, name="Alice Able")
        configure(tls_sim, app, allow_http=False, ca_cert_pem=tls_sim.ca_pem)
        report = run_doctor()
        steps = by_name(report)
        assert steps["tls"][0].ok is True and "TLSv1." in steps["tls"][0].sentence
        assert steps["signin"][0].ok is True and steps["extended_protection"][0].ok is True
        ExchangeIntegration.get().ca_cert_pem = None
        db.session.commit()
        report = run_doctor()
        tls = by_name(report)["tls"][0]
        assert tls.ok is False and "not trusted" in tls.sentence and "Get-ExchangeCertificate" in tls.fix
        assert "signin" not in by_name(report)  # no password goes to a server Sundial cannot trust
        close_pools()
