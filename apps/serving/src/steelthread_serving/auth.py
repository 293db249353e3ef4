"""Who is calling: the `X-API-Key` header, checked once for every `/v1` route before its body is read.

The one implementation of authentication (`routes.ServingRoute` calls it). It reads the raw header bytes
from the ASGI scope, so what a key is does not depend on a decoding: a key that is not printable ASCII is
refused at start-up (settings.py) and so never matches. A request with the header more than once is
refused: proxies and frameworks disagree on which of two values counts (the first or the last), and an
ambiguous credential is no credential. Keys are held as sha256 digests and compared in constant time
against every configured digest, so neither the keys nor timing reveal which one nearly matched.

A key belongs to an owner (a team, a service) and grants scopes (scopes.py). The prediction log and
feedback records name the owner, never the key. Keys in `STEELTHREAD_API_KEYS_FILE` are stored as their
sha256 with an owner and scopes. Keys from `STEELTHREAD_API_KEYS` (plain, the original form) keep what
they always allowed: `predict`, `explain` and `feedback`, not `admin`; their owner is `key-` and the first
hex digits of the key's digest.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import Scope

from steelthread_contracts import ErrorCode
from steelthread_serving.errors import ApiError
from steelthread_serving.scopes import PLAIN_KEY_SCOPES, KeyScope, ScopedKey

API_KEY_HEADER = "X-API-Key"
_HEADER = API_KEY_HEADER.lower().encode()


def digest(key: bytes) -> bytes:
    """The form a key is held in (sha256): a memory dump or a secret file shows no usable key."""
    return hashlib.sha256(key).digest()


@dataclass(frozen=True)
class Principal:
    """The caller a key stands for."""

    owner: str
    scopes: frozenset[KeyScope]


class KeyRing:
    """The accepted keys, as digests, each with its principal."""

    def __init__(self, entries: Iterable[tuple[bytes, Principal]]) -> None:
        self._entries = tuple(entries)

    @classmethod
    def of_keys(cls, keys: Iterable[str]) -> KeyRing:
        """Plain keys (`STEELTHREAD_API_KEYS`), each with `PLAIN_KEY_SCOPES`."""
        digests = [digest(key.encode()) for key in keys]
        return cls((d, Principal(f"key-{d.hex()[:8]}", PLAIN_KEY_SCOPES)) for d in digests)

    @classmethod
    def of_scoped(cls, keys: Iterable[ScopedKey]) -> KeyRing:
        """Keys from the scoped-key file: held as the file states them, hashed."""
        return cls((bytes.fromhex(k.sha256), Principal(k.owner, k.scopes)) for k in keys)

    def __add__(self, other: KeyRing) -> KeyRing:
        return KeyRing((*self._entries, *other._entries))

    def find(self, key: bytes) -> Principal | None:
        supplied = digest(key)
        found = None
        for candidate, principal in self._entries:  # every digest compared, so timing says nothing
            if hmac.compare_digest(supplied, candidate):
                found = principal
        return found


def supplied_key(scope: Scope) -> bytes:
    """The raw value of the one `X-API-Key` header, or the 401 for none or several."""
    found: list[bytes] = [value for name, value in scope["headers"] if name == _HEADER]
    if not found:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, f"missing {API_KEY_HEADER} header", API_KEY_HEADER)
    if len(found) > 1:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, f"send the {API_KEY_HEADER} header once", API_KEY_HEADER)
    return found[0]


def authenticate(scope: Scope, keys: KeyRing, needs: KeyScope) -> Principal:
    """The caller, or the 401 for a missing, repeated or unknown key, or the 403 for a key without the
    route's scope."""
    principal = keys.find(supplied_key(scope))
    if principal is None:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "unknown API key", API_KEY_HEADER)
    require(principal, needs, API_KEY_HEADER)
    return principal


def require(principal: Principal, needs: KeyScope, field: str) -> None:
    """The 403 when the caller's key lacks `needs` (`field` names what asked for it)."""
    if needs not in principal.scopes:
        raise ApiError(403, ErrorCode.FORBIDDEN, f"this API key lacks the {needs.value!r} scope", field)
