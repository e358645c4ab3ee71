"""A throwaway MIT Kerberos KDC for tests (S12): Debian's krb5-kdc, started on a free port with its own realm,
database and config in a temporary directory — no system configuration is read or changed.

The realm is EXAMPLE.COM, the UPN suffix of the simulator's service account, as in Active Directory, where the
realm is the domain in capitals. Processes find it through KRB5_CONFIG (set for the test's duration).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SBIN = ("/usr/sbin", "/usr/local/sbin")
REALM = "EXAMPLE.COM"


def tool(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in SBIN if os.path.exists(f"{d}/{name}")), None)


def missing() -> str | None:
    """Why a KDC cannot run here, or None."""
    for name in ("krb5kdc", "kdb5_util", "kadmin.local"):
        if tool(name) is None:
            return f"{name} is missing (Debian package krb5-kdc / krb5-admin-server; scripts/test.sh installs them)"
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as exc:
        return f"python gssapi/krb5 missing ({exc}); pip install -r requirements.txt needs libkrb5-dev"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Kdc:
    dir: Path
    port: int
    proc: subprocess.Popen
    env: dict

    @property
    def kdc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kadmin(self, query: str) -> None:
        subprocess.run([tool("kadmin.local"), "-r", REALM, "-q", query], env=self.env, check=True,
                       capture_output=True, timeout=30)

    def add_user(self, name: str, password: str) -> None:
        self.kadmin(f"addprinc +requires_preauth -pw {password} {name}@{REALM}")  # AD default

    def add_service(self, spn: str) -> str:
        """A service principal (HTTP/host) and a keytab with its keys; returns the keytab's path."""
        keytab = self.dir / (spn.replace("/", "_") + ".keytab")
        self.kadmin(f"addprinc -randkey {spn}@{REALM}")
        self.kadmin(f"ktadd -k {keytab} {spn}@{REALM}")
        return str(keytab)

    def failed_preauth(self, name: str) -> int:
        """Wrong passwords the KDC saw for this principal (its log: PREAUTH_FAILED), AD's bad-password count."""
        log = (self.dir / "kdc.log").read_text(errors="replace")
        return sum(1 for line in log.splitlines() if "PREAUTH_FAILED" in line and f"{name}@{REALM}" in line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start(tmp: Path) -> Kdc:
    port = _free_port()
    (tmp / "krb5.conf").write_text(f"""[libdefaults]
  default_realm = {REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  dns_canonicalize_hostname = false
  udp_preference_limit = 1
[realms]
  {REALM} = {{
    kdc = 127.0.0.1:{port}
  }}
[domain_realm]
  localhost = {REALM}
""")
    (tmp / "kdc.conf").write_text(f"""[kdcdefaults]
  kdc_ports = {port}
  kdc_tcp_ports = {port}
[realms]
  {REALM} = {{
    database_name = {tmp}/principal
    key_stash_file = {tmp}/stash
    acl_file = {tmp}/kadm5.acl
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }}
[logging]
  kdc = FILE:{tmp}/kdc.log
""")
    (tmp / "kadm5.acl").write_text("")
    env = {**os.environ, "KRB5_CONFIG": str(tmp / "krb5.conf"), "KRB5_KDC_PROFILE": str(tmp / "kdc.conf")}
    subprocess.run([tool("kdb5_util"), "create", "-s", "-r", REALM, "-P", "throwaway-master-key"], env=env,
                   check=True, capture_output=True, timeout=60)
    proc = subprocess.Popen([tool("krb5kdc"), "-n", "-r", REALM], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # bounded wait for the listening port
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("the test KDC did not start")
    return Kdc(tmp, port, proc, env)
