"""Who is calling: the `X-API-Key` header, checked once for every `/v1` route before its body is read.

The one implementation of authentication (`routes.ServingRoute` calls it). It reads the raw header bytes
from the ASGI scope, so what a key is does not depend on a decoding: a key that is not printable ASCII is
refused at start-up (settings.py) and so never matches. A request with the header more than once is
refused: proxies and frameworks disagree on which of two values counts (the first or the last), and an
ambiguous credential is no credential. Keys are held as sha256 digests and compared in constant time
against every configured digest, so neither the keys nor timing reveal which one nearly matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.types import Scope

from steelthread_contracts import ErrorCode
from steelthread_serving.errors import ApiError

API_KEY_HEADER = "X-API-Key"
_HEADER = API_KEY_HEADER.lower().encode()


def digest(key: bytes) -> bytes:
    """The form a key is held in (sha256): a memory dump or a secret file shows no usable key."""
    return hashlib.sha256(key).digest()


class KeyRing:
    """The accepted keys, as digests."""

    def __init__(self, digests: Iterable[bytes]) -> None:
        self._digests = tuple(digests)

    @classmethod
    def of_keys(cls, keys: Iterable[str]) -> KeyRing:
        return cls(digest(key.encode()) for key in keys)

    def knows(self, key: bytes) -> bool:
        supplied = digest(key)
        matched = False
        for candidate in self._digests:  # every digest compared, so timing says nothing
            matched |= hmac.compare_digest(supplied, candidate)
        return matched


def supplied_key(scope: Scope) -> bytes:
    """The raw value of the one `X-API-Key` header, or the 401 for none or several."""
    found = [value for name, value in scope["headers"] if name == _HEADER]
    if not found:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, f"missing {API_KEY_HEADER} header", API_KEY_HEADER)
    if len(found) > 1:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, f"send the {API_KEY_HEADER} header once", API_KEY_HEADER)
    return found[0]


def authenticate(scope: Scope, keys: KeyRing) -> None:
    """Pass, or raise the 401 every `/v1` route answers for a missing, repeated or unknown key."""
    if not keys.knows(supplied_key(scope)):
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "unknown API key", API_KEY_HEADER)
