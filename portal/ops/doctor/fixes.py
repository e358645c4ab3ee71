"""What an Exchange administrator runs to fix each failed doctor step (O5): (step, cause) -> (sentence, command).

`{svc}` is the service account, `{mailbox}` the staff mailbox, `{host}` the server's host name, `{ews}` the EWS
virtual directory. Commands are Exchange Management Shell unless marked otherwise; sources: Microsoft Learn pages
for New-ManagementRoleAssignment, Add-MailboxFolderPermission, Set-WebServicesVirtualDirectory,
New-ThrottlingPolicy, and "Configure Windows Extended Protection in Exchange Server" (Set-WebConfigurationProperty
on the EWS directory's extendedProtection.tokenChecking).
"""
from __future__ import annotations

EWS_DIR = "{host}\\EWS (Default Web Site)"

FIXES: dict[tuple[str, str], tuple[str, str]] = {
    ("dns", "fail"): ("The server name {host} does not resolve from the Sundial host.",
                      "(DNS) Resolve-DnsName {host}  # add an A record or fix the address on the Configuration tab"),
    ("tcp", "fail"): ("Nothing answers on {host} port {port} from the Sundial host (firewall or wrong port).",
                      "(Windows) Test-NetConnection {host} -Port {port}  # open the port on the firewall"),
    ("tls", "fail"): ("The server's certificate is not trusted with the CA stored in Sundial: {why}.",
                      "Get-ExchangeCertificate | Format-List Thumbprint,Subject,Services,NotAfter; "
                      "upload the issuing CA's certificate on the Configuration tab"),
    ("schemes", "fail"): ("The EWS directory does not offer {wanted} sign-in (it offers: {offered}).",
                          "Set-WebServicesVirtualDirectory -Identity '" + EWS_DIR + "' -WindowsAuthentication $true "
                          "-BasicAuthentication $true"),
    ("extended_protection", "fail"): (
        "Sign-in failed over https although the password is accepted elsewhere: Extended Protection requires "
        "channel binding, which breaks when something between Sundial and Exchange re-encrypts TLS.",
        "Set-WebConfigurationProperty -Filter '/system.webServer/security/authentication/windowsAuthentication' "
        "-Name extendedProtection.tokenChecking -Value 'Allow' -PSPath IIS:\\ -Location 'Default Web Site/EWS'"),
    ("signin", "AuthenticationFailed"): (
        "Exchange rejected the service account's password; Sundial paused and will not send it again.",
        "(Active Directory) Get-ADUser {svc_name} -Properties LockedOut,PasswordExpired; Unlock-ADAccount "
        "{svc_name}; then type the current password on the Configuration tab and Authorize"),
    ("signin", "AccountLocked"): (
        "The service account is probably locked in Active Directory.",
        "(Active Directory) Unlock-ADAccount {svc_name}"),
    ("signin", "VersionNotAccepted"): ("The server does not accept the selected Exchange version.",
                                       "Get-ExchangeServer | Format-List Name,AdminDisplayVersion"),
    ("calendar", "MailboxNotFound"): (
        "The service account has no mailbox of its own (fine: calendar access is checked on staff mailboxes).", ""),
    ("rights", "ImpersonationDenied"): (
        "The service account may not impersonate {mailbox}.",
        "New-ManagementRoleAssignment -Name SundialImpersonation -Role ApplicationImpersonation -User {svc}"),
    ("rights", "AccessDenied"): (
        "The service account has no rights on {mailbox}'s calendar (delegate access).",
        "Add-MailboxFolderPermission -Identity {mailbox}:\\Calendar -User {svc} -AccessRights Editor"),
    ("rights", "MailboxNotFound"): ("No mailbox has the address {mailbox} (the staff member's email must be the "
                                    "mailbox's primary address).",
                                    "Get-Mailbox -Identity {mailbox} | Format-List PrimarySmtpAddress"),
    ("throttling", "fail"): (
        "Exchange is throttling Sundial now ({why}).",
        "New-ThrottlingPolicy SundialPolicy -EwsMaxConcurrency Unlimited -EwsMaxSubscriptions Unlimited "
        "-EwsCutoffBalance Unlimited; Set-ThrottlingPolicyAssociation -Identity {svc} -ThrottlingPolicy SundialPolicy"),
    ("subscribe", "fail"): (
        "A streaming subscription for {mailbox} failed: {why}",
        "New-ManagementRoleAssignment -Name SundialImpersonation -Role ApplicationImpersonation -User {svc}"),
}
DEFAULT = ("{why}", "")


def fix_for(step: str, cause: str, **values) -> tuple[str, str]:
    sentence, command = FIXES.get((step, cause)) or FIXES.get((step, "fail")) or DEFAULT
    safe = {k: v for k, v in values.items() if v is not None}
    return sentence.format_map(_Blank(safe)), command.format_map(_Blank(safe))


class _Blank(dict):
    def __missing__(self, key):
        return "…"
