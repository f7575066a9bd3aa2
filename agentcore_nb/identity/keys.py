"""Signing keys in the project state directory: Ed25519, made on first use, rotated by command.

Layout under ``<state>/identity/`` (directory mode 0700)::

    keys.json          the key ring: kid, alg, public JWK, created, retired, verify_until
    private/KID.pem    the private key of the active key (mode 0600; deleted when it is retired)
    trusted.json       public keys of other issuers this project accepts (federation), by issuer

A rotation makes a new active key and retires the old ones: they stop signing at once (their
private keys are deleted) but keep verifying until every token they signed has expired
(``verify_until = retired + max_ttl + skew``); then they are pruned. Other processes of the project
see a rotation on their next use (the ring is re-read when ``keys.json`` changes on disk).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import IdentityError

KID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ALG = "EdDSA"


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A verification key and the issuer it belongs to (a token's ``iss`` must be this issuer)."""

    kid: str
    alg: str
    key: Ed25519PublicKey
    issuer: str
    retired: float | None = None
    verify_until: float | None = None


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(kid: str, key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid, "alg": ALG, "use": "sig"}


def key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise IdentityError(f"key {str(jwk.get('kid'))[:64]!r} is not an Ed25519 public key (OKP)")
    return Ed25519PublicKey.from_public_bytes(_unb64(jwk["x"]))


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable, not even briefly)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_json(path: Path, data: Any, mode: int = 0o600) -> None:
    """Atomic replace: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)
    forget_stamp(str(path))  # this process sees its own write at once


def file_stamp(path: str | Path) -> tuple[int, int, int] | None:
    """Identity of a file's current content (inode, mtime, size); None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


#: How stale a :func:`recent_stamp` may be: a change another process makes to ``config.json`` or
#: ``revoked.json`` is seen here within this many seconds (this process's own writes at once).
RECHECK_S = 0.1
_recent: dict[str, tuple[float, tuple[int, int, int] | None]] = {}  # path -> (checked at, stamp)


def recent_stamp(path: str) -> tuple[int, int, int] | None:
    """:func:`file_stamp` stat'ed at most every :data:`RECHECK_S` per path in this process: the
    checks run at every node start, and a ``stat`` gives up the GIL (under load, a wait to get it
    back in each of the many threads of a served process)."""
    now = time.monotonic()
    seen = _recent.get(path)
    if seen is not None and now - seen[0] < RECHECK_S:
        return seen[1]
    stamp = file_stamp(path)
    _recent[path] = (now, stamp)
    return stamp


def forget_stamp(path: str) -> None:
    """The next :func:`recent_stamp` of ``path`` stats it (before a read-modify-write)."""
    _recent.pop(path, None)


class KeyStore:
    """The project's key ring. Thread-safe; several processes share it through the files."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ring_path = directory / "keys.json"
        self.trusted_path = directory / "trusted.json"
        self._watch = (str(self.ring_path), str(self.trusted_path))  # stat'ed on every use
        self._lock = threading.RLock()
        self._stamp: tuple[tuple[int, int, int] | None, tuple[int, int, int] | None] | None = None
        self._keys: dict[str, PublicKey] = {}
        self._issuers: frozenset[str] = frozenset()
        self._ring: list[dict[str, Any]] = []
        self._active: tuple[str, Ed25519PrivateKey] | None = None

    # ------------------------------------------------------------------ files
    def ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "private").mkdir(mode=0o700, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Across processes (flock on ``.lock``) and threads."""
        self.ensure_dir()
        with self._lock:
            fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def refresh(self, issuer: str) -> None:
        """Re-read the ring and trusted keys if either file changed on disk (a cheap stat)."""
        stamp = (file_stamp(self._watch[0]), file_stamp(self._watch[1]))
        if stamp == self._stamp:
            return
        with self._lock:
            stamp = (file_stamp(self._watch[0]), file_stamp(self._watch[1]))
            if stamp == self._stamp:
                return
            ring = self._read(self.ring_path).get("keys", [])
            keys: dict[str, PublicKey] = {}
            trusted = self._read(self.trusted_path)
            for entry in ring:
                kid = entry.get("kid")
                if isinstance(kid, str) and KID_RE.match(kid):
                    keys[kid] = PublicKey(kid, ALG, key_from_jwk(entry["jwk"]), issuer,
                                          entry.get("retired"), entry.get("verify_until"))  # fmt: skip
            for other, jwks in trusted.items():
                for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
                    kid = jwk.get("kid")
                    if isinstance(kid, str) and KID_RE.match(kid) and kid not in keys:
                        keys[kid] = PublicKey(kid, ALG, key_from_jwk(jwk), other)
            self._ring, self._keys, self._stamp = ring, keys, stamp
            self._issuers = frozenset(trusted)
            if self._active is not None and self._active_kid(ring) != self._active[0]:
                self._active = None  # rotated by another process: load the new signing key

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise IdentityError(
                f"cannot read {path}: {exc}", hint="restore it or remove the identity folder"
            ) from None
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _active_kid(ring: list[dict[str, Any]]) -> str | None:
        live = [e for e in ring if not e.get("retired")]
        return live[-1]["kid"] if live else None

    # ------------------------------------------------------------------ use
    def public(self, kid: str, issuer: str) -> PublicKey | None:
        """The verification key for ``kid`` (which must already be sanitised), or None."""
        self.refresh(issuer)
        found = self._keys.get(kid)
        if found is not None and found.verify_until is not None and found.verify_until < time.time():
            return None
        return found

    def trusted_issuers(self, issuer: str) -> frozenset[str]:
        """Other issuers whose tokens this project accepts."""
        self.refresh(issuer)
        return self._issuers

    def signing_key(self, issuer: str) -> tuple[str, Ed25519PrivateKey]:
        """The active key; the first call in a project makes one."""
        self.refresh(issuer)
        active = self._active
        if active is not None:
            return active
        with self.locked():
            self._stamp = None
            self.refresh(issuer)
            kid = self._active_kid(self._ring)
            if kid is None:
                kid = self._add_key(issuer)
            self._active = (kid, self._load_private(kid))
            return self._active

    def _load_private(self, kid: str) -> Ed25519PrivateKey:
        path = self.dir / "private" / f"{kid}.pem"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise IdentityError(
                f"the private key of the active key {kid} is missing ({path})",
                hint="run `agentcore identity rotate` to make a new key",
            ) from None
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise IdentityError(
                f"private key {path} is readable by other users (mode {stat.S_IMODE(st.st_mode):04o})",
                hint=f"chmod 600 {path}, or rotate the key if it may have been read",
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError(f"{path} is not an Ed25519 private key")
        return key

    def _add_key(self, issuer: str) -> str:
        """Make a key (caller holds the lock); it becomes the active one."""
        kid = secrets.token_urlsafe(12)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_private(self.dir / "private" / f"{kid}.pem", pem)
        ring = [*self._read(self.ring_path).get("keys", [])]
        ring.append({"kid": kid, "alg": ALG, "created": time.time(), "retired": None, "verify_until": None,
                     "jwk": public_jwk(kid, private.public_key())})  # fmt: skip
        write_json(self.ring_path, {"version": 1, "keys": ring}, mode=0o644)
        self._stamp = None
        self.refresh(issuer)
        return kid

    def rotate(self, issuer: str, keep_for: float) -> tuple[str, list[str]]:
        """A new active key; the old ones verify for ``keep_for`` more seconds. Returns (new, retired)."""
        with self.locked():
            now = time.time()
            ring = [*self._read(self.ring_path).get("keys", [])]
            retired = []
            for entry in ring:
                if not entry.get("retired"):
                    entry["retired"] = now
                    entry["verify_until"] = now + keep_for
                    retired.append(entry["kid"])
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.dir / "private" / f"{entry['kid']}.pem")
            ring = [e for e in ring if e.get("verify_until") is None or e["verify_until"] > now]
            write_json(self.ring_path, {"version": 1, "keys": ring}, mode=0o644)
            self._stamp = None
            self._active = None
            kid = self._add_key(issuer)
            self._active = (kid, self._load_private(kid))
            return kid, retired

    def trust(self, issuer: str, jwks: dict[str, Any], own_issuer: str) -> list[str]:
        """Accept tokens of ``issuer`` signed with the keys in ``jwks``; returns their kids."""
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list) or not keys:
            raise IdentityError("a JWKS needs a non-empty 'keys' list")
        kids = []
        for jwk in keys:
            key_from_jwk(jwk)
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not KID_RE.match(kid):
                raise IdentityError("every trusted key needs a kid of 8-64 letters, digits, '-' or '_'")
            kids.append(kid)
        if issuer == own_issuer:
            raise IdentityError("a project cannot trust extra keys for its own issuer", hint="use rotate")
        with self.locked():
            data = self._read(self.trusted_path)
            data[issuer] = {"keys": [dict(k) for k in keys]}
            write_json(self.trusted_path, data, mode=0o644)
            self._stamp = None
        return kids

    def ring(self, issuer: str) -> list[dict[str, Any]]:
        """The key ring entries (no private material)."""
        self.refresh(issuer)
        return [dict(e) for e in self._ring]

    def jwks(self, issuer: str) -> dict[str, Any]:
        """Public keys that verify this project's tokens (active and not yet expired retired ones)."""
        self.refresh(issuer)
        now = time.time()
        return {"keys": [dict(e["jwk"]) for e in self._ring
                         if e.get("verify_until") is None or e["verify_until"] > now]}  # fmt: skip


__all__ = ["ALG", "KID_RE", "IdentityError", "KeyStore", "PublicKey", "public_jwk"]
