"""State verification needs beyond the key ring: revoked sessions and tokens, used single-use ids.

Both live in the project's ``identity/`` folder so every process of the project agrees:
``revoked.json`` (re-read when it changes on disk: one ``stat`` per check, but at most one every
:data:`~.keys.RECHECK_S` per process for the checks at node starts, so another process's revocation
stops this one's runs within 0.1 s, this process's own at once) and ``used/JTI``
(created with ``O_EXCL``: of two processes racing to use the same single-use token, one wins).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from .keys import KeyStore, file_stamp, forget_stamp, recent_stamp, write_json


class Revocations:
    """Revoked sessions (kept: a session id is never reused) and revoked tokens (until they expire)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.path = keys.dir / "revoked.json"
        self._path = str(self.path)
        self._stamp: tuple[int, int, int] | None = None
        self._sessions: dict[str, float] = {}
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def _refresh(self, recent: bool = False) -> None:
        stamp = recent_stamp(self._path) if recent else file_stamp(self._path)
        if stamp == self._stamp:
            return
        with self._lock:
            data: dict[str, Any] = {}
            if stamp is not None:
                try:
                    loaded = json.loads(self.path.read_text("utf-8"))
                    data = loaded if isinstance(loaded, dict) else {}
                except (OSError, ValueError):
                    data = {}
            self._sessions = dict(data.get("sessions") or {})
            self._tokens = dict(data.get("tokens") or {})
            self._stamp = stamp

    def reason(self, session: str, jti: str, *, recent: bool = False) -> str | None:
        """Why a token of ``session`` with id ``jti`` is refused, or None. ``recent`` (each node's
        start): ``revoked.json`` stat'ed at most every :data:`~.keys.RECHECK_S`, not on every call."""
        self._refresh(recent)
        if session in self._sessions:
            return "session revoked"
        if jti in self._tokens:
            return "token revoked"
        return None

    def revoke(self, *, session: str | None = None, jti: str | None = None, expires: float = 0.0) -> None:
        with self.keys.locked():
            self._stamp = None
            forget_stamp(self._path)  # merge what another process revoked a moment ago
            self._refresh()
            now = time.time()
            sessions = dict(self._sessions)
            tokens = {j: e for j, e in self._tokens.items() if e > now - 3600}
            if session is not None:
                sessions[session] = now
            if jti is not None:
                tokens[jti] = expires
            write_json(self.path, {"sessions": sessions, "tokens": tokens}, mode=0o644)
            self._stamp = None

    def sessions(self) -> dict[str, float]:
        self._refresh()
        return dict(self._sessions)


class ReplayCache:
    """Ids of single-use tokens already used; entries are dropped once their token expired."""

    def __init__(self, directory: Path, keep_after: float) -> None:
        self.dir = directory / "used"
        self.keep_after = keep_after
        self._next_prune = 0.0

    def consume(self, jti: str, expires: float) -> bool:
        """True the first time ``jti`` (already validated: [A-Za-z0-9_-]) is seen, in any process."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.dir / jti, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(fd, repr(expires).encode())
        finally:
            os.close(fd)
        self._prune()
        return True

    def _prune(self) -> None:
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + 60.0
        with contextlib.suppress(OSError), os.scandir(self.dir) as entries:
            for entry in entries:
                with contextlib.suppress(OSError, ValueError):
                    if float(Path(entry.path).read_text()) + self.keep_after < now:
                        os.unlink(entry.path)


__all__ = ["ReplayCache", "Revocations"]
