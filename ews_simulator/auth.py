"""NTLM (pyspnego acceptor, bound to the TCP connection like IIS) and Basic authentication, with an
Active Directory style lockout (threshold bad attempts within a window lock the account for a while)."""
from __future__ import annotations

import atexit
import base64
import os
import tempfile
import threading
import time
import weakref
from collections import Counter, defaultdict

import spnego
from spnego._ntlm_raw.messages import Authenticate
from spnego.exceptions import BadBindingsError

from . import extended_protection as ep

_FILE_LOCK = threading.Lock()


def refresh_user_file(directory) -> str:
    """pyspnego reads NTLM credentials from the file named by NTLM_USER_FILE; one line per logon form
    (``DOMAIN:user:pw`` and ``:user@domain:pw``). Each simulator keeps its own file, so two simulators in one
    process with the same account name never accept each other's passwords; see `_with_own_file`."""
    with _FILE_LOCK:
        path = getattr(directory, "_ntlm_user_file", None)
        if path is None:
            fd, path = tempfile.mkstemp(prefix="ews-sim-ntlm-", suffix=".txt")
            os.close(fd)
            atexit.register(lambda: os.path.exists(path) and os.unlink(path))
            directory._ntlm_user_file = path
        lines = []
        for acc in list(directory.accounts.values()):
            lines.append(f"{acc.domain}:{acc.username}:{acc.password}")
            lines.append(f":{acc.upn}:{acc.password}")
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        return path


def _with_own_file(directory, step):
    """Run one pyspnego accept step with NTLM_USER_FILE naming this simulator's file. pyspnego reads the
    variable during the step, and the variable is process-wide, so steps are serialised (handshakes only)."""
    with _FILE_LOCK:
        os.environ["NTLM_USER_FILE"] = directory._ntlm_user_file
        return step()


class Unauthorized(Exception):
    def __init__(self, token: str | None = None, scheme: str = "NTLM"):
        super().__init__("401")
        self.token, self.scheme = token, scheme


class Authenticator:
    def __init__(self, directory, mode: str, faults, realm: str = "127.0.0.1"):
        self.directory, self.mode, self.faults, self.realm = directory, mode, faults, realm
        self._conns: dict = {}  # connection key -> {"ctx": server context, "account": Account}
        self._weak: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._failures: dict[str, list[float]] = defaultdict(list)
        # Every wrong password per account (AD's badPwdCount, never reset by the lockout window) and every
        # sign-in refused because the account was locked: what the lockout tests count (S10).
        self.failed_signins: Counter = Counter()
        self.locked_refusals: Counter = Counter()
        self.ep_refusals: Counter = Counter()  # sign-ins Extended Protection refused (never a bad password)
        self.cert_hash: bytes | None = None  # tls-server-end-point of the https certificate, set when TLS is on
        self.kerberos_keytab: str | None = None  # HTTP/<host> keys: Negotiate accepts Kerberos (use_kerberos)
        self.signed_in_with: Counter = Counter()  # mechanism → successful sign-ins (ntlm, kerberos, basic)
        self._locked_until: dict[str, float] = {}
        self.lock = threading.Lock()
        directory.on_accounts_changed = lambda: refresh_user_file(directory)
        refresh_user_file(directory)

    def challenge_headers(self, token: str | None = None, scheme: str = "NTLM") -> list[tuple[str, str]]:
        if token:
            return [("WWW-Authenticate", f"{scheme} {token}")]
        out = []
        if self.kerberos_keytab and self.mode in ("ntlm", "both"):
            out.append(("WWW-Authenticate", "Negotiate"))  # IIS Windows authentication: Negotiate, then NTLM
        if self.mode in ("ntlm", "both"):
            out += [("WWW-Authenticate", "NTLM")]
        if self.mode in ("basic", "both"):
            out.append(("WWW-Authenticate", f'Basic realm="{self.realm}"'))
        return out

    # -- connection binding ----------------------------------------------------------------------------
    def _conn_state(self, environ) -> dict:
        # waitress passes its channel's bound method; the channel object identifies the TCP connection
        # exactly (REMOTE_ADDR+REMOTE_PORT could be reused by a later connection).
        check = environ.get("waitress.client_disconnected")
        channel = getattr(check, "__self__", None)
        if channel is not None:
            with self.lock:
                return self._weak.setdefault(channel, {})
        key = (environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT"))
        with self.lock:
            return self._conns.setdefault(key, {})

    # -- lockout ------------------------------------------------------------------------------------------
    def is_locked(self, upn: str) -> bool:
        locked = upn in self.faults.locked_accounts or self._locked_until.get(upn, 0) > time.monotonic()
        if locked:
            with self.lock:
                self.locked_refusals[upn] += 1
        return locked

    def _bad_attempt(self, upn: str) -> None:
        with self.lock:
            self.failed_signins[upn] += 1
        policy = self.faults.lockout_policy
        if not policy.threshold:
            return
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self._failures[upn] if now - t < policy.window_s] + [now]
            self._failures[upn] = recent
            if len(recent) >= policy.threshold:
                self._locked_until[upn] = now + policy.duration_s
                self._failures[upn] = []

    def unlock(self, upn: str) -> None:
        self._locked_until.pop(upn.lower(), None)
        self._failures.pop(upn.lower(), None)

    # -- entry point ---------------------------------------------------------------------------------------
    def authenticate(self, environ):
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        state = self._conn_state(environ)
        if scheme == "negotiate" and self.kerberos_keytab and self.mode in ("ntlm", "both") \
                and not base64.b64decode(value.strip() or "").startswith(b"NTLMSSP\x00"):
            return self._kerberos(state, value.strip())
        if scheme in ("ntlm", "negotiate") and self.mode in ("ntlm", "both"):
            return self._ntlm(state, value.strip(), "Negotiate" if scheme == "negotiate" else "NTLM")
        if scheme == "basic" and self.mode in ("basic", "both"):
            return self._basic(value.strip())
        if not header and state.get("account") is not None:
            account = state["account"]
            if self._locked_until.get(account.upn.lower(), 0) <= time.monotonic():
                return account  # IIS keeps an NTLM-authenticated connection authenticated
        raise Unauthorized()

    def _basic(self, value: str):
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise Unauthorized() from None
        account = self.directory.find_account(user)
        if account is None:
            raise Unauthorized()
        upn = account.upn.lower()
        if self.is_locked(upn):
            raise Unauthorized()
        if password != account.password:
            self._bad_attempt(upn)
            raise Unauthorized()
        self.signed_in_with["basic"] += 1
        return account

    def _ntlm(self, state: dict, value: str, scheme: str):
        try:
            token = base64.b64decode(value)
        except ValueError:
            raise Unauthorized() from None
        if len(token) < 12 or not token.startswith(b"NTLMSSP\x00"):
            raise Unauthorized()
        kind = int.from_bytes(token[8:12], "little")
        if kind == 1:
            state.clear()
            ctx = _with_own_file(self.directory, lambda: spnego.server(protocol="ntlm"))
            out = _with_own_file(self.directory, lambda: ctx.step(token))
            state["ctx"] = ctx
            raise Unauthorized(base64.b64encode(out).decode(), scheme)
        ctx = state.pop("ctx", None)
        if kind != 3 or ctx is None:
            raise Unauthorized()
        msg = Authenticate.unpack(token)
        user = msg.user_name or ""
        account = self.directory.find_account(user if "@" in user else f"{msg.domain_name}\\{user}")
        if account is not None and self.is_locked(account.upn.lower()):
            raise Unauthorized()
        try:
            cbt = ep.required_bindings(self.faults.extended_protection_mode, self.cert_hash, msg)
            _with_own_file(self.directory, lambda: ctx.step(token, channel_bindings=cbt))
        except (ep.Refused, BadBindingsError):  # checked before the password: not a bad sign-in for AD
            with self.lock:
                self.ep_refusals[account.upn.lower() if account else user.lower()] += 1
            raise Unauthorized() from None
        except Exception:  # pyspnego raises on a wrong password or unknown user
            if account is not None:
                self._bad_attempt(account.upn.lower())
            raise Unauthorized() from None
        if account is None:
            raise Unauthorized()
        state["account"] = account
        self.signed_in_with["ntlm"] += 1
        return account

    def use_kerberos(self, keytab: str) -> None:
        """Accept Kerberos in Negotiate with the keys of HTTP/<host> in `keytab` (the KDC issued them)."""
        os.environ["KRB5_KTNAME"] = keytab  # GSSAPI's acceptor reads the keytab named here
        self.kerberos_keytab = keytab

    def _kerberos(self, state: dict, value: str):
        """One-leg Kerberos (SPNEGO-wrapped AP-REQ) checked by pyspnego/GSSAPI against the keytab, with the TLS
        channel binding under Extended Protection. The KDC already judged the password; a failure here is a
        ticket or binding problem, never a bad password."""
        try:
            token = base64.b64decode(value)
        except ValueError:
            raise Unauthorized() from None
        mode = self.faults.extended_protection_mode
        cbt = ep.bindings(self.cert_hash) if mode != "none" and self.cert_hash else None
        ctx = spnego.server(protocol="negotiate", service="HTTP")
        try:
            out = ctx.step(token, channel_bindings=cbt)
        except Exception:  # noqa: BLE001 - a bad ticket or binding
            with self.lock:
                self.ep_refusals["(kerberos)"] += 1
            raise Unauthorized(None, "Negotiate") from None
        account = self.directory.find_account(ctx.client_principal or "") if ctx.complete else None
        if account is None or self.is_locked(account.upn.lower()):
            raise Unauthorized()
        state["account"] = account
        state["kerberos_reply"] = base64.b64encode(out).decode() if out else None
        self.signed_in_with["kerberos"] += 1
        return account
