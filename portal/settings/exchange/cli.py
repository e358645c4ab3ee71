"""`flask sundial rotate-keys`: re-encrypt stored secrets with the newest SUNDIAL_ENCRYPTION_KEYS key.

Rotation: prepend a new Fernet key to SUNDIAL_ENCRYPTION_KEYS (newest first), restart, run this
command, then remove the old key. Every key decrypts; only the first one encrypts.
"""
from __future__ import annotations

import click

from ...cli import sundial
from ...crypto import rotate
from ...extensions import db
from ...models import AuditEvent, ExchangeIntegration


@sundial.command("rotate-keys")
def rotate_keys():
    """Re-encrypt the Exchange service account password with the newest encryption key."""
    integ = ExchangeIntegration.get()
    if integ is None or not integ.password_encrypted:
        click.echo("No stored Exchange password; nothing to re-encrypt.")
        return
    try:
        integ.password_encrypted = rotate(integ.password_encrypted)
    except Exception:  # noqa: BLE001 - InvalidToken: no configured key opens it
        raise click.ClickException(
            "The stored Exchange password cannot be decrypted with any key in SUNDIAL_ENCRYPTION_KEYS; "
            "keep the old key in the list (after the new one) and run this again.") from None
    db.session.add(AuditEvent(action="keys_rotated", detail="Stored password re-encrypted with the newest key."))
    db.session.commit()
    click.echo("Re-encrypted the stored Exchange password with the newest key; you may now remove the old key.")
