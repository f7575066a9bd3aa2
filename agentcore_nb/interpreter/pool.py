"""Pre-warmed sandboxes: per language, a few fresh session places with their interpreter already
started, so a new session's first execution costs about a warm call.

Filled by one background thread. An entry is handed to exactly one new session and becomes that
session's (its uid, directory and sandbox); when the session stops, it is destroyed like any
other. Nothing ever goes back into the pool, so no state can pass between sessions. An entry
that died while waiting (killed from outside, out of memory) is destroyed on the way out and the
session starts a fresh sandbox instead; the pool fills again.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .kernel import Kernel
from .limits import InterpreterError, Limits
from .process import Space
from .sandbox import Bubblewrap, normalize_language, write_etc
from .uids import UidLease, lease_uid

log = logging.getLogger(__name__)

#: ``pool=True``: small, since every entry is a live interpreter (Python about 15 MB, R about 60).
DEFAULT_SIZES = {"python": 2, "javascript": 1, "r": 1}
RETRY_SECONDS = 5.0


@dataclass
class Place:
    """Where one session lives: its directory (``work`` at /workspace, generated ``etc``), its uid
    lease (root mode) and the :class:`Space` its sandboxes are made from."""

    dir: Path
    lease: UidLease | None
    space: Space

    def destroy(self) -> None:
        if self.lease is not None:  # root mode: anything left with the place's own uid
            procs.kill_uid(self.lease.uid)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.lease is not None:
            self.lease.release()
            self.lease = None


def make_place(base: Path, prefix: str, bwrap: Bubblewrap | None) -> Place:
    """A new session place under ``base``: root mode leases a uid of its own; rootless and
    unsafe_local run as the caller."""
    lease = lease_uid() if bwrap is not None and not bwrap.rootless else None
    uid = lease.uid if lease else os.getuid()
    place_dir = base / f"{prefix}-{os.urandom(4).hex()}"
    workdir, etcdir = place_dir / "work", place_dir / "etc"
    owner = uid if lease is not None else None
    place = Place(place_dir, lease, Space(uid=uid, workdir=workdir, etcdir=etcdir, bwrap=bwrap, owner=owner))
    try:
        workdir.mkdir(parents=True)
        if owner is not None:
            os.chown(workdir, owner, owner)
        os.chmod(workdir, 0o700)
        if bwrap is not None:
            write_etc(etcdir, uid, gid=uid if owner is not None else os.getgid())
    except BaseException:
        place.destroy()
        raise
    return place


@dataclass
class Warm:
    """A pool entry: a place and one started interpreter in it."""

    place: Place
    kernel: Kernel

    def destroy(self) -> None:
        self.kernel.stop()
        self.place.destroy()


def pool_sizes(pool: bool | int | Mapping[str, int] | None) -> dict[str, int]:
    """``True`` -> the default sizes; an int -> that many per language; a mapping -> as given."""
    if pool is None or pool is False:
        return {}
    if pool is True:
        return dict(DEFAULT_SIZES)
    if isinstance(pool, int):
        if pool < 0:
            raise InterpreterError(f"pool size must be 0 or more, got {pool}")
        return {lang: pool for lang in DEFAULT_SIZES} if pool else {}
    if isinstance(pool, Mapping):
        sizes = {}
        for lang, size in pool.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise InterpreterError(f"pool size for {lang!r} must be 0 or more, got {size!r}")
            if size:
                sizes[normalize_language(lang)] = size
        return sizes
    raise InterpreterError(f"pool must be True, a size or {{language: size}}, got {pool!r}")


POOL_ENV = "AGENTCORE_INTERPRETER_POOL"


def pool_from_env(environ: Mapping[str, str] | None = None) -> bool | int | dict[str, int]:
    """The project interpreter's pool from ``AGENTCORE_INTERPRETER_POOL``: unset/``0``/``off`` ->
    none, ``1``/``on`` -> the default sizes, ``python=2,r=1`` -> those."""
    text = (os.environ if environ is None else environ).get(POOL_ENV, "").strip().lower()
    if text in ("", "0", "off", "false", "no"):
        return False
    if text in ("1", "on", "true", "yes"):
        return True
    sizes: dict[str, int] = {}
    for item in text.split(","):
        lang, sep, size = item.partition("=")
        if not sep or not size.strip().isdigit():
            raise InterpreterError(
                f"{POOL_ENV}={text!r} is not understood",
                hint="use on, off, or LANG=SIZE,... (e.g. python=2,r=1)",
            )
        sizes[lang.strip()] = int(size)
    return sizes


def _start_key(limits: Limits) -> tuple[object, ...]:
    """The limits fixed when an interpreter starts (the rest are per execution)."""
    return (
        limits.memory_bytes,
        limits.processes,
        limits.file_size_bytes,
        limits.open_files,
        limits.tmp_bytes,
    )


class SandboxPool:
    def __init__(
        self, base: Path, bwrap: Bubblewrap | None, limits: Limits, sizes: Mapping[str, int]
    ) -> None:
        self.base = base
        self.bwrap = bwrap
        self.limits = limits
        self.sizes = dict(sizes)
        self.ready: dict[str, list[Warm]] = {lang: [] for lang in self.sizes}
        self.stats = {"started": 0, "taken": 0, "died": 0, "failed": 0}
        self.last_error = ""
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._fill, name="agentcore-interpreter-pool", daemon=True)
        self._thread.start()

    def take(self, language: str, limits: Limits) -> Warm | None:
        """A ready sandbox for ``language`` started with the same start-time ``limits``, or None."""
        if language not in self.sizes or _start_key(limits) != _start_key(self.limits):
            return None
        while True:
            with self._cond:
                if self._closed or not self.ready[language]:
                    self._cond.notify_all()
                    return None
                warm = self.ready[language].pop(0)
                self._cond.notify_all()  # room again: fill
            if warm.kernel.alive:
                self.stats["taken"] += 1
                return warm
            self.stats["died"] += 1
            ended = warm.kernel.how_it_ended()
            log.warning(
                "interpreter pool: a waiting %s sandbox had ended (%s); it was destroyed, "
                "the session gets a fresh one and the pool fills again",
                language,
                ended,
            )
            warm.destroy()

    def wait_ready(self, language: str, count: int = 1, timeout: float = 60.0) -> bool:
        """Block until ``count`` sandboxes of ``language`` wait (for benchmarks and tests)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or len(self.ready.get(language, [])) >= count, timeout=timeout
            )

    def _missing(self) -> str | None:
        for lang, size in self.sizes.items():
            if len(self.ready[lang]) < size:
                return lang
        return None

    def _fill(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._missing() is not None)
                if self._closed:
                    return
                lang = self._missing()
            assert lang is not None
            try:
                warm = self._start(lang)
            except Exception as exc:  # never take the host down; try again later
                self.stats["failed"] += 1
                self.last_error = str(exc)
                log.warning("interpreter pool: cannot start a %s sandbox: %s", lang, exc)
                with self._cond:
                    self._cond.wait(RETRY_SECONDS)
                continue
            with self._cond:
                if self._closed:
                    warm.destroy()
                    return
                self.ready[lang].append(warm)
                self.stats["started"] += 1
                self._cond.notify_all()

    def _start(self, language: str) -> Warm:
        place = make_place(self.base, f"pool-{language}", self.bwrap)
        try:
            kernel = Kernel(place.space, language, self.limits)
            kernel.start()
        except BaseException:
            place.destroy()
            raise
        return Warm(place, kernel)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            entries = [w for waiting in self.ready.values() for w in waiting]
            for waiting in self.ready.values():
                waiting.clear()
            self._cond.notify_all()
        for warm in entries:
            warm.destroy()
        self._thread.join(timeout=30)
