"""age encryption of backup files (recipients are public keys)."""

from __future__ import annotations

from typing import Any

import pyrage


def parse_recipient(text: str) -> Any:
    """Parse an age X25519 recipient (``age1...``) or an SSH public key.

    Raises ``ValueError`` naming the value when it is not a valid recipient.
    """
    try:
        if text.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(text)
        if text.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return pyrage.ssh.Recipient.from_str(text)
    except pyrage.RecipientError as error:
        raise ValueError(f"invalid age recipient {text!r}: {error}") from error
    raise ValueError(
        f"invalid age recipient {text!r}: expected an age public key (age1...) "
        "or an ssh-ed25519 / ssh-rsa public key"
    )
