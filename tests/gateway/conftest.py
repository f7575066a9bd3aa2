from __future__ import annotations

import pytest

from agentcore_nb.project import Project

from .servers import API_KEY, OrdersHandler, Server


@pytest.fixture
def orders_api(monkeypatch):
    server = Server()
    OrdersHandler.seen.clear()
    monkeypatch.setenv("ORDERSKEY", API_KEY)
    yield server
    server.close()


@pytest.fixture
def project(agentcore_home):
    p = Project(agentcore_home)
    yield p
    p.close()


@pytest.fixture
def gateway(project):
    return project.services["gateway"]


@pytest.fixture
def echo():
    from .echo import EchoServer

    server = EchoServer()
    yield server
    server.close()
