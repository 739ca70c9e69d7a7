"""Signed institution requests (HMAC-SHA256), stronger than a bare bearer key.

The HIS sends four headers::

    X-Yibao-Key:        the key id, given with the key when it is issued (e.g. ``kid_3f9a0c27d41e``;
                        random, it reveals nothing of the key)
    X-Yibao-Timestamp:  Unix seconds; refused outside ±``signature_max_skew_seconds``
    X-Yibao-Nonce:      16–64 random characters, never reused with the same key
    X-Yibao-Signature:  hex HMAC-SHA256(key, canonical request)

and the canonical request is five lines joined by ``\\n``: the method, the path with its query
string exactly as sent, the timestamp, the nonce and the hex SHA-256 of the body bytes. A
captured request cannot be replayed (nonce), delayed (timestamp) or altered (body hash); the
key itself never travels. The server keeps the key encrypted with its master secret, because
verifying an HMAC needs the key, unlike a bearer check which needs only its hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from yibao import clock

NONCE_MIN, NONCE_MAX = 16, 64
HEADERS = ("x-yibao-key", "x-yibao-timestamp", "x-yibao-nonce", "x-yibao-signature")


def canonical(method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path_qs, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(secret: str, method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode(), canonical(method, path_qs, timestamp, nonce, body), hashlib.sha256).hexdigest()


def signed_headers(
    key_id: str, secret: str, method: str, path_qs: str, body: bytes, nonce: str, now: float | None = None
) -> dict[str, str]:
    """What a client sends (used by tests, the simulator and the docs' example)."""
    ts = str(int(now if now is not None else clock.now().timestamp()))
    return {
        "X-Yibao-Key": key_id,
        "X-Yibao-Timestamp": ts,
        "X-Yibao-Nonce": nonce,
        "X-Yibao-Signature": sign(secret, method, path_qs, ts, nonce, body),
    }


def fresh(timestamp: str, max_skew: int, now: float | None = None) -> bool:
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return abs((now if now is not None else clock.now().timestamp()) - ts) <= max_skew


def matches(secret: str, method: str, path_qs: str, timestamp: str, nonce: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, method, path_qs, timestamp, nonce, body), signature.lower())


def _fernet(master: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"yibao-institution-keys:" + master).digest()))


def encrypt_secret(master: bytes, secret: str) -> str:
    return _fernet(master).encrypt(secret.encode()).decode()


def decrypt_secret(master: bytes, token: str) -> str | None:
    try:
        return _fernet(master).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
