"""Accounts (who logs on), mailboxes (what they reach) and calendar permissions."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from .soap import EwsError, SoapFault

RIGHTS = ("none", "reviewer", "author", "editor", "owner")
RANK = {r: i for i, r in enumerate(RIGHTS)}


@dataclass
class Account:
    upn: str
    password: str
    domain: str
    username: str
    display_name: str = ""
    impersonation: bool = False

    @property
    def sid(self) -> str:
        digest = hashlib.sha1(self.upn.lower().encode()).digest()
        sub_ids = [int.from_bytes(digest[i:i + 4], "little") for i in (0, 4, 8, 12)]
        return "S-1-5-21-" + "-".join(str(x) for x in sub_ids)


@dataclass
class Mailbox:
    primary: str
    name: str
    aliases: list[str] = field(default_factory=list)
    owner_upn: str = ""
    unavailable: bool = False
    grouping: str = "EXSIM-DAG1"  # Autodiscover GroupingInformation: the DAG/site whose server holds it
    # calendar folder id -> account upn -> right; "*" folder key = all calendars of the mailbox
    grants: dict[str, str] = field(default_factory=dict)


class Directory:
    def __init__(self, domain: str = "EXAMPLE"):
        self.domain = domain
        self.accounts: dict[str, Account] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.aliases: dict[str, str] = {}
        self.lock = threading.RLock()
        self.on_accounts_changed = None  # called when credentials change (NTLM user file)
        # What "no such mailbox" answers: Microsoft's servers say ErrorNonExistentMailbox; an independent EWS
        # server was seen answering ErrorCannotFindUser (fault switch cannot_find_user).
        self.missing_code = "ErrorNonExistentMailbox"
        # Mailboxes outside the impersonation role's management scope (fault switch impersonation_out_of_scope).
        self.out_of_scope: set[str] = set()

    # -- administration -------------------------------------------------------------------
    def add_account(self, upn: str, password: str, display_name: str = "", impersonation: bool = False,
                    domain: str | None = None) -> Account:
        user = upn.split("@", 1)[0]
        acc = Account(upn=upn, password=password, domain=domain or self.domain, username=user,
                      display_name=display_name or user, impersonation=impersonation)
        with self.lock:
            self.accounts[upn.lower()] = acc
        if self.on_accounts_changed:
            self.on_accounts_changed()
        return acc

    def add_mailbox(self, primary: str, name: str = "", aliases=(), password: str = "Password1!",
                    owner_upn: str | None = None, grouping: str | None = None) -> Mailbox:
        with self.lock:
            mbx = Mailbox(primary=primary, name=name or primary.split("@")[0], aliases=list(aliases),
                          owner_upn=(owner_upn or primary).lower())
            if grouping:
                mbx.grouping = grouping
            self.mailboxes[primary.lower()] = mbx
            for alias in aliases:
                self.aliases[alias.lower()] = primary.lower()
            if mbx.owner_upn not in self.accounts:
                self.add_account(mbx.owner_upn, password, display_name=mbx.name)
        return mbx

    def grant(self, mailbox: str, upn: str, right: str) -> None:
        if right not in RIGHTS:
            raise ValueError(f"right must be one of {RIGHTS}")
        with self.lock:
            self.mailbox(mailbox).grants[upn.lower()] = right

    def set_impersonation(self, upn: str, allowed: bool = True) -> None:
        self.accounts[upn.lower()].impersonation = allowed

    # -- lookups ------------------------------------------------------------------------------
    def mailbox(self, address: str) -> Mailbox:
        return self.mailboxes[address.lower()]

    def find_account(self, name: str, domain: str | None = None) -> Account | None:
        """Match ``user@domain`` (UPN) or ``DOMAIN\\user`` / bare ``user`` like AD does."""
        name = (name or "").lower()
        if "\\" in name:
            domain, name = name.split("\\", 1)
        if "@" in name:
            return self.accounts.get(name)
        for acc in self.accounts.values():
            if acc.username.lower() == name and (not domain or domain.lower() == acc.domain.lower()):
                return acc
        return None

    def resolve(self, address: str, header: bool = False) -> Mailbox:
        """Primary SMTP address -> mailbox; alias -> ErrorNonPrimarySmtpAddress; unknown -> ErrorNonExistentMailbox."""
        key = (address or "").strip().lower()
        if key.startswith("smtp:"):
            key = key[5:]
        mbx = self.mailboxes.get(key)
        if mbx is None:
            acc = self.accounts.get(key)
            mbx = next((b for b in self.mailboxes.values() if acc and b.owner_upn == acc.upn.lower()), None)
        if mbx is not None:
            if mbx.unavailable:
                raise EwsError("ErrorMailboxStoreUnavailable", "The mailbox database is temporarily unavailable.")
            return mbx
        if key in self.aliases:
            primary = self.mailboxes[self.aliases[key]].primary
            # exchangelib reads MessageXml/Value[@Name="Primary"] and retries with it (services/common.py).
            err = ("ErrorNonPrimarySmtpAddress", "The SMTP address isn't the primary SMTP address.",
                   {"Primary": primary})
        else:
            err = (self.missing_code, self.missing_text(), {"SmtpAddress": address})
        if header:
            raise SoapFault(*err)
        raise EwsError(*err)

    def missing_text(self) -> str:
        if self.missing_code == "ErrorCannotFindUser":
            return "Cannot find user."
        return "The SMTP address has no mailbox associated with it."

    def own_mailbox(self, account: Account) -> Mailbox | None:
        return next((b for b in self.mailboxes.values() if b.owner_upn == account.upn.lower()), None)

    def right(self, account: Account, mailbox: Mailbox) -> str:
        if mailbox.owner_upn == account.upn.lower():
            return "owner"
        return mailbox.grants.get(account.upn.lower(), "none")

    def impersonate(self, account: Account, address: str) -> Mailbox:
        """ExchangeImpersonation header: without the ApplicationImpersonation role Exchange answers an
        HTTP 500 SOAP fault ErrorImpersonateUserDenied (EWS-FACTS section 6)."""
        try:
            target = self.resolve(address, header=True)
        except EwsError as err:  # e.g. mailbox store unavailable
            raise SoapFault(err.code, err.message, err.message_xml) from None
        outside = target.primary.lower() in self.out_of_scope
        if (not account.impersonation or outside) and target.owner_upn != account.upn.lower():
            raise SoapFault("ErrorImpersonateUserDenied",
                            "The account does not have permission to impersonate the requested user.")
        return target

    def snapshot(self) -> dict:
        return {"domain": self.domain, "accounts": self.accounts, "mailboxes": self.mailboxes,
                "aliases": self.aliases}

    def restore(self, data: dict) -> None:
        self.domain, self.accounts = data["domain"], data["accounts"]
        self.mailboxes, self.aliases = data["mailboxes"], data["aliases"]
