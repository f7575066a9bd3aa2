"""``%memory`` through a real kernel and ``agentcore memory`` as a user runs it."""

from __future__ import annotations

import json

import pytest

from tests.helpers import procs
from tests.helpers.kernel import running_kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    home = tmp_path_factory.mktemp("memory-kernel")
    with running_kernel("agentcore", env={"AGENTCORE_HOME": str(home), "NO_COLOR": "1"}) as k:
        yield k


def test_memory_magic_add_search_list_forget_stats(kernel):
    ids = []
    for text in ("Refund issued for order 1234", "Refund approved for order 1234", "Shipped order 55"):
        r = kernel.execute(f'%memory add "{text}" -n support/refunds -m \'{{"kind": "refund"}}\'')
        assert r.status == "ok" and r.stdout.startswith("remembered ")
        ids.append(r.stdout.split()[1])
    found = kernel.execute('%memory search "refund 1234" -n support/ -k 2')
    assert found.status == "ok"
    table = found.data[0]
    assert "<table>" in table["text/html"] and table["text/plain"].count("Refund") == 2
    listed = kernel.execute("%memory list -n support/refunds").data[0]["text/plain"]
    assert [line.split()[-1] for line in listed.splitlines()[1:]] == [i[:12] for i in reversed(ids)]
    stats = kernel.execute("%memory stats").stdout
    assert stats.startswith("3 live records")
    assert "search effort: ef " in stats and "for recall@10 0.99" in stats
    assert kernel.execute(f"%memory forget {ids[0]}").stdout.startswith("forgot")
    assert kernel.execute("%memory stats").stdout.startswith("2 live records, 1 forgotten")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%memory", "SUBCOMMAND"),
        ("%memory fly", "invalid choice"),
        ('%memory add ""', "memory text is empty"),
        ('%memory search x -n "bad ns"', "invalid namespace"),
        ("%memory search x -f '{oops'", "--filter is not JSON"),
        ("%memory forget nope", "no memory record with id 'nope'"),
    ],
)
def test_memory_magic_bad_input_is_one_line(kernel, line, message):
    r = kernel.execute(line)
    assert r.status == "error"
    (err,) = r.errors
    assert message in err["evalue"]
    assert len(err["traceback"]) <= 2


def test_cli_round_trip(subprocess_env):
    def cli(*args):
        return procs.cli(subprocess_env, "memory", *args)

    added = cli("add", "Refund issued for order 1234", "-n", "support/refunds")
    assert added.returncode == 0 and len(added.stdout.strip()) == 32
    found = cli("search", "refund", "-n", "support/")
    assert "Refund issued for order 1234" in found.stdout
    assert cli("forget", added.stdout.strip()).returncode == 0
    assert cli("search", "refund", "-n", "support/").stdout == ""
    assert "rebuilt: 0 live records" in cli("rebuild").stdout
    effort = json.loads(cli("stats").stdout)["effort"]
    assert effort["ef"] >= 10 and effort["recall_target"] == 0.99 and effort["source"] == "model"
    assert cli("search", "refund", "--ef", "64").returncode == 0
    bad_recall = cli("search", "refund", "--recall", "1.5")
    assert bad_recall.returncode == 1 and bad_recall.stderr.startswith("error: recall must be")
    bad = cli("search", "x", "--filter", "{oops")
    assert bad.returncode == 1 and bad.stderr.startswith("error: --filter is not JSON")
