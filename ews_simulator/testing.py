"""In-process fixture API: ``with running_simulator(...) as sim:`` (see docs/CONTRACTS.md)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

from .core import Config, Simulator
from .serve import ServerThread


@dataclass(frozen=True)
class ServiceAccount:
    upn: str
    password: str
    domain: str
    username: str

    @property
    def down_level(self) -> str:
        return f"{self.domain}\\{self.username}"


class RunningSimulator:
    """What a test holds: the URL, the service account, and direct access to the state."""

    def __init__(self, sim: Simulator, server: ServerThread, scheme: str = "http", port: int | None = None,
                 service_account: ServiceAccount | None = None, ca_pem: str | None = None):
        self.sim, self.server = sim, server
        self.port = port or server.port
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/EWS/Exchange.asmx"
        self.autodiscover_url = f"{self.base_url}/autodiscover/autodiscover.xml"
        self.wsdl_url = f"{self.base_url}/EWS/Services.wsdl"
        self.service_account = service_account
        self.ca_pem = ca_pem
        self.tls = None

    # state
    directory = property(lambda self: self.sim.directory)
    store = property(lambda self: self.sim.store)
    faults = property(lambda self: self.sim.faults)
    counters = property(lambda self: self.sim.counters)
    requests = property(lambda self: self.sim.requests)  # RequestRecord(operation, mailbox, headers) per EWS request
    version = property(lambda self: self.sim.version)

    def add_mailbox(self, email: str, name: str = "", aliases=(), password: str = "Password1!",
                    grouping: str | None = None):
        mbx = self.sim.directory.add_mailbox(email, name, aliases, password, grouping=grouping)
        self.sim.store.ensure_mailbox(email)
        return mbx

    def add_account(self, upn: str, password: str, impersonation: bool = False):
        return self.sim.directory.add_account(upn, password, impersonation=impersonation)

    def grant(self, mailbox: str, account_upn: str, right: str):
        self.sim.directory.grant(mailbox, account_upn, right)

    def set_impersonation(self, account_upn: str, allowed: bool = True):
        self.sim.directory.set_impersonation(account_upn, allowed)

    def unlock(self, account_upn: str):
        self.server.app.auth.unlock(account_upn)

    def failed_signins(self, account_upn: str) -> int:
        """Wrong passwords this account received so far (what Active Directory's lockout counts)."""
        return self.server.app.auth.failed_signins[account_upn.lower()]

    def locked_refusals(self, account_upn: str) -> int:
        """Sign-ins refused because the account was locked (right or wrong password alike)."""
        return self.server.app.auth.locked_refusals[account_upn.lower()]

    def use_kerberos(self, keytab: str) -> None:
        """Accept Kerberos (Negotiate) with the HTTP/<host> keys in `keytab`."""
        self.server.app.auth.use_kerberos(keytab)

    def signed_in_with(self, mechanism: str) -> int:
        """Successful sign-ins by mechanism: "ntlm", "kerberos" or "basic"."""
        return self.server.app.auth.signed_in_with[mechanism]

    def ep_refusals(self, account_upn: str) -> int:
        """Sign-ins Extended Protection refused (missing or wrong channel binding)."""
        return self.server.app.auth.ep_refusals[account_upn.lower()]

    def outlook(self, email: str):
        from .outlook import Outlook
        return Outlook(self.sim, email)

    def stop(self):
        if self.tls is not None:
            self.tls.stop()
        self.server.stop()


def make_simulator(version="2016", auth="ntlm", seed=None, domain="EXAMPLE", email_domain="example.com",
                   service_password="Svc-Password-1!", **config) -> tuple[Simulator, ServiceAccount]:
    sim = Simulator(Config(version=version, auth=auth, domain=domain, email_domain=email_domain, **config))
    if seed == "demo":
        from .seed import seed_demo
        return sim, seed_demo(sim)
    upn = f"svc-sundial@{email_domain}"
    sim.directory.add_account(upn, service_password, display_name="Sundial service", impersonation=True)
    return sim, ServiceAccount(upn, service_password, domain, "svc-sundial")


@contextlib.contextmanager
def running_simulator(version: str = "2016", auth: str = "ntlm", tls: bool = False, seed: str | None = None,
                      host: str = "127.0.0.1", port: int = 0, **config):
    sim, account = make_simulator(version=version, auth=auth, seed=seed, **config)
    server = ServerThread(sim, host, port).start()
    handle = RunningSimulator(sim, server, service_account=account)
    if tls:
        from .tls import TlsTerminator
        terminator = TlsTerminator(host, server.port).start()
        from .extended_protection import end_point_hash
        server.app.auth.cert_hash = end_point_hash(terminator.cert_der)  # what Extended Protection binds to
        sim.config.extra["public_scheme"] = "https"
        handle = RunningSimulator(sim, server, "https", terminator.port, account, terminator.ca_pem)
        handle.tls = terminator
    try:
        yield handle
    finally:
        handle.stop()
