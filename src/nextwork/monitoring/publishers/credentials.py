"""Credentials of the publishing accounts, encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a key derived with
HKDF-SHA256 from ``NEXTWORK_SECRETS_KEY``, or from ``SECRET_KEY`` when that is unset (each
with its own fixed context, so the same string never gives the same key for two uses).
Rotating the key makes what was stored unreadable: ``decrypt`` then raises ``Unreadable``
and the credentials must be entered again (docs/presence.md, "Publishing").
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

CONTEXT_DEDICATED = b"nextwork/monitoring/publishing-credentials/v1"
CONTEXT_FALLBACK = b"nextwork/monitoring/publishing-credentials/from-SECRET_KEY/v1"


class Unreadable(Exception):
    """The stored credentials cannot be decrypted with the current key."""


def _fernet() -> Fernet:
    dedicated = getattr(settings, "NEXTWORK_SECRETS_KEY", None)
    material = (dedicated or settings.SECRET_KEY).encode()
    context = CONTEXT_DEDICATED if dedicated else CONTEXT_FALLBACK
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(values: dict) -> str:
    return _fernet().encrypt(json.dumps(values).encode()).decode("ascii")


def decrypt(token: str) -> dict:
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError):
        raise Unreadable(
            "Les identifiants du compte de publication ne se déchiffrent plus (la clé "
            "NEXTWORK_SECRETS_KEY ou SECRET_KEY a changé) : saisissez-les de nouveau."
        ) from None
