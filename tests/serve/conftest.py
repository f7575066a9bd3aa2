"""One contract server per module (a real ``agentcore serve`` process over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import Served, contract_bundle


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    import os

    root = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["AGENTCORE_HOME"] = str(root / "home")
    bundle = contract_bundle(root / "contract")
    with Served(bundle, "--body-limit", "4096", env=env, cwd=root) as server:
        yield server


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=60) as c:
        yield c


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return contract_bundle(tmp_path / "contract")
