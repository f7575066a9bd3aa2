"""The ``identity`` service: issue, delegate, verify, and answer every boundary's question.

``authorize(token, scope, session_id=)`` is what the gateway (``tool:NAME``), memory
(``memory:read|write:NS``) and the interpreter (``code:exec``, ``net:HOST:PORT``) call through
:func:`agentcore_nb.authz.authorize`. Policy for a call without a token (``token=None``): the
local owner, trusted in-process, is allowed, unless ``require_token`` is set (config file,
``AGENTCORE_REQUIRE_TOKEN=1``, or ``authorize(..., require=True)`` as the HTTP server does).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ..authz import SPENT_IN_CALL
from ..errors import NotPermittedError
from ..events import AccessDenied
from ..observability import conventions as conv
from .errors import IdentityError
from .keys import KeyStore, file_stamp, recent_stamp, write_json
from .scopes import ScopeError, check_scope, escalations, parse_scopes
from .store import ReplayCache, Revocations
from .tokens import Claims, InvalidTokenError, check_claims, check_signature, read_header, sign

if TYPE_CHECKING:
    from ..runtime.context import NodeContext
    from .hook import IdentityHook

log = logging.getLogger("agentcore_nb.identity")
_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/\-]{0,127}$")
_SESSION_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
_UNSAFE = re.compile(r"[^\x21-\x7e]")


@dataclass
class IdentityConfig:
    """``identity/config.json``; written when the first key is made."""

    issuer: str = ""
    audience: str = ""
    ttl: float = 300.0
    max_ttl: float = 3600.0
    skew: float = 10.0
    require_token: bool = False
    node_tokens: bool = True

    def problems(self) -> list[str]:
        out = []
        for name in ("ttl", "max_ttl", "skew"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                out.append(f"{name} must be a non-negative number of seconds, got {value!r}")
        if not out and not 0 < self.ttl <= self.max_ttl:
            out.append(f"ttl must be between 1 and max_ttl ({self.max_ttl:g}) seconds, got {self.ttl!r}")
        if not out and self.skew > 300:
            out.append(f"skew must be at most 300 seconds, got {self.skew!r}")
        for name in ("require_token", "node_tokens"):
            if not isinstance(getattr(self, name), bool):
                out.append(f"{name} must be true or false")
        return out


def _safe(text: str) -> str:
    """A scope shown in a message: printable ASCII only, bounded."""
    return _UNSAFE.sub("?", text)[:200]


def same_session(sid: str, given: str) -> bool:
    """``given`` names the token's session: the id itself, or the interpreter's sandbox name for it
    (``run-SID`` / SID with characters outside ``[A-Za-z0-9_.-]`` replaced by ``-``)."""
    if given == sid:
        return True
    clean = re.sub(r"[^A-Za-z0-9_.\-]", "-", sid)
    return given == f"run-{clean[:120]}" or given == (clean[:128].lstrip("-_.") or None)


class Identity:
    """Ephemeral scoped tokens for one project state directory (``<home>/identity``)."""

    def __init__(self, home: str | Path | Any, *, require_token: bool | None = None) -> None:
        base = home if isinstance(home, (str, os.PathLike)) else home.home  # a dir, or a Project
        #: The project whose log records denials of tokens no running node holds (direct calls).
        self._project = None if isinstance(home, (str, os.PathLike)) else home
        self.dir = Path(base) / "identity"
        self.keys = KeyStore(self.dir)
        self.revocations = Revocations(self.keys)
        self._config: IdentityConfig | None = None
        self._config_stamp: tuple[int, int, int] | None = None
        self._config_path = str(self.dir / "config.json")
        self._require_override = require_token
        self._replay: ReplayCache | None = None
        #: Tokens this process issued to nodes now running -> (context, claims): a denial becomes an
        #: event of that node, and the signature of a token minted here need not be checked again.
        self._live: dict[str, tuple[NodeContext, Claims]] = {}

    # ------------------------------------------------------------------ configuration
    @property
    def config(self) -> IdentityConfig:
        """The settings; re-read when ``config.json`` changed (another process ran ``config``)."""
        return self._settings(file_stamp(self._config_path))

    def run_config(self) -> IdentityConfig:
        """:attr:`config` as a run's start sees it: ``config.json`` stat'ed at most every
        :data:`~.keys.RECHECK_S` (another process's change holds within that; this one's at once)."""
        return self._settings(recent_stamp(self._config_path))

    def _settings(self, stamp: tuple[int, int, int] | None) -> IdentityConfig:
        if self._config is None or stamp != self._config_stamp:
            self._config, self._config_stamp = self._load_config(), stamp
        return self._config

    def _load_config(self) -> IdentityConfig:
        path = self.dir / "config.json"
        cfg = IdentityConfig()
        if path.exists():
            data = self.keys._read(path)
            known = {f.name for f in fields(IdentityConfig)}
            unknown = sorted(set(data) - known)
            if unknown:
                raise IdentityError(f"{path}: unknown setting(s) {', '.join(unknown)}")
            cfg = IdentityConfig(**data)
            problems = cfg.problems()
            if problems:
                raise IdentityError(f"{path}: " + "; ".join(problems))
        return cfg

    def _ensure_config(self) -> IdentityConfig:
        """The config with an issuer: made (and saved) on first use."""
        cfg = self.config
        if cfg.issuer:
            return cfg
        with self.keys.locked():
            self._config = cfg = self._load_config()
            if not cfg.issuer:
                ident = secrets.token_hex(8)
                cfg.issuer = f"urn:agentcore-nb:{ident}"
                cfg.audience = cfg.audience or f"urn:agentcore-nb:{ident}:services"
                write_json(self.dir / "config.json", asdict(cfg), mode=0o644)
                self._config_stamp = file_stamp(self.dir / "config.json")
        return cfg

    def configure(self, **settings: Any) -> IdentityConfig:
        """Change settings (``ttl``, ``max_ttl``, ``skew``, ``require_token``, ``node_tokens``, ...)."""
        cfg = self._ensure_config()
        known = {f.name for f in fields(IdentityConfig)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise IdentityError(
                f"unknown identity setting(s) {', '.join(unknown)}", hint=", ".join(sorted(known))
            )
        new = IdentityConfig(**{**asdict(cfg), **settings})
        problems = new.problems()
        if problems:
            raise IdentityError("; ".join(problems))
        with self.keys.locked():
            write_json(self.dir / "config.json", asdict(new), mode=0o644)
            self._config, self._config_stamp = new, file_stamp(self.dir / "config.json")
        return new

    @property
    def require_token(self) -> bool:
        if self._require_override is not None:
            return self._require_override
        if os.environ.get("AGENTCORE_REQUIRE_TOKEN", "").strip().lower() in ("1", "true", "yes", "on"):
            return True
        return self.config.require_token

    @property
    def replay(self) -> ReplayCache:
        if self._replay is None:
            cfg = self.config
            self._replay = ReplayCache(self.dir, cfg.max_ttl + cfg.skew)
        return self._replay

    # ------------------------------------------------------------------ issuing
    def issue(
        self,
        agent: str,
        scopes: str | Iterable[str],
        *,
        ttl: float | None = None,
        session: str | None = None,
        once: bool = False,
        parent: str | Claims | None = None,
    ) -> str:
        """A signed token for ``agent`` with ``scopes`` (the local owner's issuance). With ``parent``,
        a delegation: the scopes must all be within the parent's (else ``not permitted``)."""
        if parent is not None:
            return self.delegate(parent, agent, scopes, ttl=ttl, once=once)
        return self._mint(agent, parse_scopes(scopes), ttl=ttl, session=session, once=once)[0]

    def delegate(
        self,
        parent: str | Claims,
        agent: str,
        scopes: str | Iterable[str],
        *,
        ttl: float | None = None,
        once: bool = False,
    ) -> str:
        """A token for sub-agent ``agent`` acting for ``parent``'s holder (RFC 8693 ``act``): same
        session and subject, scopes only narrowed, never outliving the parent."""
        claims = parent if isinstance(parent, Claims) else self.verify(parent)
        wanted = parse_scopes(scopes)
        wider = escalations(claims.scopes, wanted)
        if wider:
            raise NotPermittedError(f"not permitted: {_safe(wider[0])} (not granted to the parent token)")
        if claims.once:  # the parent's one use becomes the child's: it cannot be multiplied
            if not self.spend(claims):
                raise self._deny(
                    "delegation",
                    "single-use token already used",
                    parent if isinstance(parent, str) else None,
                    claims,
                )
            once = True
        return self._mint(agent, wanted, ttl=ttl, parent=claims, once=once)[0]

    def _mint(
        self,
        agent: str,
        scopes: tuple[str, ...],
        *,
        ttl: float | None = None,
        session: str | None = None,
        once: bool = False,
        parent: Claims | None = None,
    ) -> tuple[str, Claims]:
        cfg = self._ensure_config()
        if not isinstance(agent, str) or not _AGENT_RE.match(agent):
            raise IdentityError(
                f"invalid agent id {agent!r:.80}", hint="letters, digits and _ . : @ / - (at most 128)"
            )
        ttl = cfg.ttl if ttl is None else ttl
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= cfg.max_ttl:
            raise IdentityError(f"ttl must be between 1 and {cfg.max_ttl:g} seconds, got {ttl!r}")
        now = time.time()
        exp = now + float(ttl)
        if parent is not None:
            if parent.expires <= now:
                raise NotPermittedError("not permitted: delegation (the parent token expired)")
            session, exp = parent.session, min(exp, parent.expires)
            subject = parent.subject
            if agent == parent.agent:
                act = parent.act
            else:
                act = {"sub": agent}
                if parent.act:
                    act["act"] = parent.act
        else:
            subject, act = agent, None
            session = session if session is not None else uuid.uuid4().hex
        if not isinstance(session, str) or not _SESSION_RE.match(session):
            raise IdentityError(
                f"invalid session id {session!r:.80}", hint="1-200 printable characters, no spaces"
            )
        reason = self.revocations.reason(session, "")
        if reason:
            raise NotPermittedError(f"not permitted: issue ({reason})")
        iat = int(now)
        claims: dict[str, Any] = {"iss": cfg.issuer, "sub": subject, "aud": cfg.audience, "sid": session,
                                  "scope": " ".join(scopes), "iat": iat, "nbf": iat, "exp": int(exp),
                                  "jti": uuid.uuid4().hex}  # fmt: skip
        if act:
            claims["act"] = act
        if once:
            claims["once"] = True
        kid, key = self.keys.signing_key(cfg.issuer)
        token = sign(claims, kid, key)
        return token, Claims(cfg.issuer, subject, (cfg.audience,), session, scopes, iat, iat, int(exp),
                             claims["jti"], kid, act, once)  # fmt: skip

    # ------------------------------------------------------------------ verifying
    def verify(self, token: str, *, session_id: str | None = None) -> Claims:
        """The verified claims, or :class:`InvalidTokenError` with the reason (RFC 8725 order:
        header and algorithm allow-list, ``typ``, ``kid`` lookup, signature, claims, revocation)."""
        header, kid = read_header(token)
        cfg = self.config
        if not cfg.issuer:
            raise InvalidTokenError("unknown key id")  # no key was ever made in this project
        key = self.keys.public(kid, cfg.issuer)
        if key is None:
            raise InvalidTokenError("unknown key id")
        payload = check_signature(token, key, header)
        claims = check_claims(
            payload,
            key,
            audience=cfg.audience,
            issuer_ok=lambda iss: iss == cfg.issuer or iss in self.keys.trusted_issuers(cfg.issuer),
            now=time.time(),
            skew=cfg.skew,
            max_ttl=cfg.max_ttl,
        )
        reason = self.revocations.reason(claims.session, claims.jti)
        if reason:
            raise InvalidTokenError(reason)
        if session_id is not None and not same_session(claims.session, session_id):
            raise InvalidTokenError("token is for another session")
        return claims

    def _check_live(self, claims: Claims, session_id: str | None) -> Claims:
        cfg = self.config
        now = time.time()
        if now > claims.expires + cfg.skew:
            raise InvalidTokenError("expired")
        reason = self.revocations.reason(claims.session, claims.jti)
        if reason:
            raise InvalidTokenError(reason)
        if session_id is not None and not same_session(claims.session, session_id):
            raise InvalidTokenError("token is for another session")
        return claims

    def authorize(
        self, token: str | None, scope: str, *, session_id: str | None = None, require: bool | None = None
    ) -> Claims | None:
        """The boundary check. Returns the claims (None for the trusted local owner), or raises
        :class:`NotPermittedError` ``not permitted: SCOPE (reason)``; a single-use token is spent."""
        if token is None:
            if require or (require is None and self.require_token):
                raise self._deny(scope, "no token", None, None)
            return None
        try:
            check_scope(scope)
        except ScopeError:
            raise self._deny(scope, "malformed scope", token, None) from None
        try:
            live = self._live.get(token)
            # minted by this process for a running node: the same checks minus the signature
            claims = self._check_live(live[1], None) if live is not None else self.verify(token)
        except InvalidTokenError as exc:
            raise self._deny(scope, exc.reason, token, None) from None
        if session_id is not None and not same_session(claims.session, session_id):
            raise self._deny(scope, "token is for another session", token, claims)
        if not claims.allows(scope):
            raise self._deny(scope, "scope not granted", token, claims)
        if claims.once and not self.spend(claims):
            raise self._deny(scope, "single-use token already used", token, claims)
        return claims

    def spend(self, claims: Claims) -> bool:
        """Use up a single-use token: True the first time in any process of the project (the
        ``used/`` files), and again only inside the boundary call that spent it
        (:func:`agentcore_nb.authz.one_call`); False once spent."""
        spent = SPENT_IN_CALL.get()
        if spent is not None and claims.jti in spent:
            return True
        if not self.replay.consume(claims.jti, claims.expires):
            return False
        if spent is not None:
            spent.add(claims.jti)
        return True

    def _deny(self, scope: str, reason: str, token: str | None, claims: Claims | None) -> NotPermittedError:
        """The error, and the record of it: an AccessDenied event in the run of the node that held
        the token, the status of the current span, a log line. Never the token itself."""
        message = f"not permitted: {_safe(scope)} ({reason})"
        live = self._live.get(token) if token is not None else None
        if claims is None and live is not None:
            claims = live[1]
        agent, jti = (claims.agent, claims.jti) if claims is not None else ("", "")
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                conv.ACCESS_DENIED_EVENT, {conv.DENIED_SCOPE: _safe(scope), conv.DENIED_REASON: reason}
            )
            span.set_status(Status(StatusCode.ERROR, message))
        if live is not None:
            ctx = live[0]
            try:
                ctx.emit(AccessDenied(scope=_safe(scope), reason=reason, agent=agent, jti=jti))
                if ctx.span is not span and ctx.span.is_recording():
                    ctx.span.add_event(
                        conv.ACCESS_DENIED_EVENT,
                        {conv.DENIED_SCOPE: _safe(scope), conv.DENIED_REASON: reason},
                    )
            except Exception:  # recording a denial must never turn it into another error
                log.debug("could not record an access denial", exc_info=True)
        elif token is not None and self._project is not None:  # a direct call: the project's log
            try:
                event = AccessDenied(scope=_safe(scope), reason=reason, agent=agent, jti=jti)
                event.session_id = claims.session if claims is not None else ""
                from ..runtime.emitting import emit  # the one seam: ids of the node running, if any

                emit(event, log=self._project.event_log)
            except Exception:
                log.debug("could not record an access denial", exc_info=True)
        log.info("%s%s", message, f" [agent {agent}]" if agent else "")
        return NotPermittedError(message)

    # ------------------------------------------------------------------ revocation and keys
    def revoke(self, *, session: str | None = None, token: str | None = None) -> str:
        """Refuse every token of ``session``, or one ``token``, from now on (in every process)."""
        if (session is None) == (token is None):
            raise IdentityError("revoke needs a session id or a token (one of them)")
        if session is not None:
            if not isinstance(session, str) or not _SESSION_RE.match(session):
                raise IdentityError(f"invalid session id {session!r:.80}")
            self.revocations.revoke(session=session)
            return f"session {session}"
        assert token is not None
        claims = self.verify(token)
        self.revocations.revoke(jti=claims.jti, expires=claims.expires)
        return f"token {claims.jti}"

    def rotate(self) -> tuple[str, list[str]]:
        """A new signing key; old keys verify until their tokens expired. Returns (new kid, retired)."""
        cfg = self._ensure_config()
        return self.keys.rotate(cfg.issuer, cfg.max_ttl + cfg.skew)

    def jwks(self) -> dict[str, Any]:
        """Public keys (JWKS) that verify this project's tokens; makes the first key if needed."""
        cfg = self._ensure_config()
        self.keys.signing_key(cfg.issuer)
        return self.keys.jwks(cfg.issuer)

    def key_ring(self) -> list[dict[str, Any]]:
        """kid, created, retired, verify_until of every key (no private material)."""
        cfg = self.config
        if not cfg.issuer:
            return []
        return [{k: v for k, v in e.items() if k != "jwk"} for e in self.keys.ring(cfg.issuer)]

    def trust(self, issuer: str, jwks: dict[str, Any]) -> list[str]:
        """Accept tokens from another issuer (its JWKS); its keys verify only its own tokens."""
        if not isinstance(issuer, str) or not issuer.strip():
            raise IdentityError("trust needs an issuer name")
        cfg = self._ensure_config()
        return self.keys.trust(issuer, jwks, cfg.issuer)

    # ------------------------------------------------------------------ runtime
    def hook(self) -> IdentityHook:
        """The run hook that gives each node a narrowed token (add it to a bare Runtime)."""
        from .hook import IdentityHook

        return IdentityHook(self)

    def close(self) -> None:
        self._live.clear()


__all__ = ["Identity", "IdentityConfig", "same_session"]
