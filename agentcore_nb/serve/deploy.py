"""``agentcore deploy BUNDLE_DIR --env ENV``: the deployable form of a bundle for one environment.

Settings come from ``agentcore.toml`` (``[env.NAME]``: port, workers, limits, sessions, auth, the
model by name and the environment variables it needs; never a secret). Written to
``build/deploy/<bundle>-<env>/``: the bundle (checked against its manifest first), a Dockerfile
(multi-arch base, non-root user, ``HEALTHCHECK`` on ``/ping``, the bundle's pinned requirements),
``settings.json``, ``command.json`` (the exact start command) and a README.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError

CONFIG_FILE = "agentcore.toml"
CONTAINER_BUNDLE = "/app/bundle"
CONTAINER_PORT_DEFAULT = 8080
PLATFORMS = ("linux/amd64", "linux/arm64")
_SECRET = re.compile(r"(^|_)(key|secret|password|passwd|token|credential)s?($|_)", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

SETTINGS = {
    "port": int,
    "workers": int,
    "body_limit": int,
    "session_idle": (int, float),
    "session_max_lifetime": (int, float),
    "drain_timeout": (int, float),
}
AUTH = {"required": bool, "jwks_url": str, "audience": str, "issuer": str}
MODEL = {"name": str, "env": list}


@dataclass(slots=True)
class EnvSettings:
    env: str
    port: int = CONTAINER_PORT_DEFAULT
    workers: int = 16
    body_limit: int = 100 * 1024 * 1024
    session_idle: float = 900.0
    session_max_lifetime: float = 8 * 3600.0
    drain_timeout: float = 30.0
    auth: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "port": self.port,
            "workers": self.workers,
            "body_limit": self.body_limit,
            "session_idle": self.session_idle,
            "session_max_lifetime": self.session_max_lifetime,
            "drain_timeout": self.drain_timeout,
            "auth": dict(self.auth),
            "model": dict(self.model),
        }


def _check_table(where: str, table: Any, schema: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise AgentcoreError(f"{where} must be a table")
    for key, value in table.items():
        if _SECRET.search(key) and not key.endswith("_env"):
            raise AgentcoreError(
                f"{where}.{key} looks like a secret: {CONFIG_FILE} holds none",
                hint=f'name the environment variable that holds it instead ({key}_env = "NAME")',
            )
        if key not in schema:
            raise AgentcoreError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(schema))})")
        want = schema[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise AgentcoreError(f"{where}.{key} has the wrong type ({type(value).__name__})")
    return dict(table)


def load_settings(env: str, config: Path | None = None) -> EnvSettings:
    """``[env.ENV]`` of ``agentcore.toml`` (defaults when there is no file and ``env`` is not named)."""
    path = config or Path(CONFIG_FILE)
    if not path.exists():
        if config is not None:
            raise AgentcoreError(f"{path} does not exist")
        return EnvSettings(env)
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AgentcoreError(f"{path}: {exc}") from None
    envs = doc.get("env") or {}
    if env not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise AgentcoreError(f"{path} has no [env.{env}] (environments: {known})")
    table = dict(envs[env])
    auth = _check_table(f"env.{env}.auth", table.pop("auth", {}), AUTH)
    model = _check_table(f"env.{env}.model", table.pop("model", {}), MODEL)
    for name in model.get("env", []):
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise AgentcoreError(f"env.{env}.model.env: {name!r} is not an environment variable name")
    plain = _check_table(f"env.{env}", table, SETTINGS)
    if bool(auth.get("jwks_url")) != bool(auth.get("audience")):
        raise AgentcoreError(f"env.{env}.auth: an external issuer needs both jwks_url and audience")
    out = EnvSettings(env, auth=auth, model=model, **plain)
    if not 1 <= out.port <= 65535 or out.workers < 1 or out.body_limit < 1:
        raise AgentcoreError(f"env.{env}: port must be 1-65535, workers and body_limit positive")
    return out


def start_command(settings: EnvSettings, bundle: str, host: str = "0.0.0.0") -> list[str]:
    """The exact ``agentcore serve`` argv the container (and ``--local``) runs."""
    cmd = [
        "agentcore", "serve", bundle, "--host", host, "--port", str(settings.port),
        "--workers", str(settings.workers), "--body-limit", str(settings.body_limit),
        "--session-idle", f"{settings.session_idle:g}",
        "--session-max-lifetime", f"{settings.session_max_lifetime:g}",
        "--drain-timeout", f"{settings.drain_timeout:g}",
    ]  # fmt: skip
    auth = settings.auth
    if auth.get("required"):
        cmd.append("--require-auth")
    for key in ("jwks_url", "audience", "issuer"):
        if auth.get(key):
            cmd += [f"--{key.replace('_', '-')}", str(auth[key])]
    return cmd


def dockerfile(name: str, settings: EnvSettings, python: str = "3.11") -> str:
    cmd = start_command(settings, CONTAINER_BUNDLE)
    model_env = ""
    if settings.model.get("name"):
        model_env = f'ENV AGENTCORE_MODEL="{settings.model["name"]}"\n'
    needs = settings.model.get("env") or []
    needs_line = (
        f"# The model needs these at run time (docker run -e NAME ...): {' '.join(needs)}\n" if needs else ""
    )
    port = settings.port
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{port}/ping', timeout=4).status == 200 else 1)"
    )
    return f"""# syntax=docker/dockerfile:1
# {name} ({settings.env}): agentcore serve of an exported graph bundle.
# Build for both platforms: docker buildx build --platform {",".join(PLATFORMS)} -t {name}:{settings.env} .
FROM python:{python}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\
    AGENTCORE_HOME=/home/agent/.agentcore
{model_env}{needs_line}RUN groupadd --gid 10001 agent && useradd --uid 10001 --gid agent --create-home agent
WORKDIR /app
COPY bundle/requirements.txt {CONTAINER_BUNDLE}/requirements.txt
RUN pip install -r {CONTAINER_BUNDLE}/requirements.txt
COPY bundle/ {CONTAINER_BUNDLE}/
COPY settings.json command.json /app/
USER agent
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \\
    CMD ["python", "-c", "{probe}"]
STOPSIGNAL SIGTERM
CMD {json.dumps(cmd)}
"""


def readme(name: str, settings: EnvSettings, cmd: list[str]) -> str:
    needs = settings.model.get("env") or []
    run_env = " ".join(f"-e {n}" for n in needs)
    return f"""# {name} ({settings.env})

Written by `agentcore deploy`. Build and run (Docker with buildx):

```sh
docker buildx build --platform {",".join(PLATFORMS)} -t {name}:{settings.env} .
docker run --rm -p {settings.port}:{settings.port} {run_env} {name}:{settings.env}
```

Start command (`command.json`): `{shlex.join(cmd)}`

Settings (`settings.json`) come from `agentcore.toml` `[env.{settings.env}]`; no secrets are written here.
The bundle's `requirements.txt` pins `agentcore-nb`: make it installable in the build (a wheel or index).
"""


def write_deployment(
    bundle_dir: Path, env: str, *, config: Path | None = None, out: Path | None = None
) -> Path:
    """Check the bundle, resolve the environment's settings, and write the deployable directory
    (atomically: a temporary directory renamed into place)."""
    from ..export.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    settings = load_settings(env, config)
    name = re.sub(r"[^a-z0-9_.-]+", "-", str(bundle.manifest.get("name") or bundle.path.name).lower()).strip(
        "-"
    )
    target = (out or Path("build") / "deploy" / f"{name}-{env}").absolute()
    cmd = start_command(settings, CONTAINER_BUNDLE)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(bundle.path, tmp / "bundle", ignore=shutil.ignore_patterns("__pycache__"))
        (tmp / "Dockerfile").write_text(dockerfile(name, settings))
        (tmp / ".dockerignore").write_text("state/\n*.log\n__pycache__/\n")
        (tmp / "settings.json").write_text(json.dumps({"name": name, **settings.to_dict()}, indent=2) + "\n")
        (tmp / "command.json").write_text(json.dumps(cmd) + "\n")
        (tmp / "README.md").write_text(readme(name, settings, cmd))
        if target.exists():
            if not (target / "command.json").exists():
                raise AgentcoreError(f"{target} exists and is not a deployment", hint="choose another -o")
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
