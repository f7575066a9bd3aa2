"""The escape suite: what an attacker's code tries in each language, run in a real bubblewrap sandbox.

Every attempt must fail safely, with the limit named in the result, and leave the host as it was.
The slow probes (time limits) start together in their own sessions when the module starts, so the
suite costs about as long as its slowest probe; each test then checks its own probe.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agentcore_nb.errors import NotPermittedError
from agentcore_nb.interpreter import ExecutionResult, Interpreter, procs

from .conftest import (
    ROOTLESS,
    SECRET,
    SECRET_NAME,
    SMALL,
    HostService,
    host_paths_untouched,
    pid_namespace,
)

LANGS = ["python", "javascript", "r", "shell"]
KERNEL_LANGS = ["python", "javascript", "r"]
TWICE_MEMORY = 2 * SMALL.memory_bytes
PY = sys.executable


def run(interp: Interpreter, lang: str, code: str, session: str, **kw: Any) -> ExecutionResult:
    if lang == "shell":
        return interp.execute_command(code, session=session, **kw)
    return interp.execute_code(code, language=lang, session=session, **kw)


def leftovers(interp: Interpreter, session: str) -> list[int]:
    """Processes of the session on the host, other than its interpreters. Root mode: every process
    of the session's uid. Rootless (one uid for everything): every process of the uid in one of the
    session's sandboxes (a killed sandbox takes every process of its PID namespace with it)."""
    s = interp.session(session)
    kernels = {k.pid for k in s.kernels.values() if k.pid}
    if not ROOTLESS:
        return [p for p in procs.uid_processes(s.uid) if p not in kernels]
    inits = {k.launched.init_pid for k in s.kernels.values() if k.launched}
    spaces = {pid_namespace(p) for p in inits} - {None}
    return [p for p in procs.uid_processes(s.uid) if pid_namespace(p) in spaces and p not in kernels | inits]


# ---------------------------------------------------------------- probes that take a while

CPU_LOOP = {
    "python": "while True:\n    pass",
    "javascript": "for (;;) {}",
    "r": "repeat {}",
    "shell": "while :; do :; done",
}
SLEEP = {
    "python": "import time\ntime.sleep(60)",
    "javascript": "new Promise((resolve) => setTimeout(resolve, 60000))",
    "r": "Sys.sleep(60)",
    "shell": "sleep 60",
}
FORK_BOMB = {
    "python": "import os\nwhile True:\n    os.fork()",
    "javascript": (
        "var cp = require('child_process');\nvar failed = null;\n"
        "for (let i = 0; i < 500 && !failed; i++) {\n"
        "  const r = cp.spawnSync('/bin/sh', ['-c', 'sleep 60 >/dev/null 2>&1 &']);\n"
        "  if (r.error) failed = r.error; else if (r.status !== 0) failed = new Error(String(r.stderr));\n"
        "}\nif (failed) throw failed;"
    ),
    "r": "for (i in 1:500) { rc <- system('sleep 60', wait = FALSE); if (rc != 0) stop('fork failed: ', rc) }",
    "shell": "bomb() { bomb | bomb & }; bomb",
}
SLOW = {
    **{f"cpu-{lang}": (lang, CPU_LOOP[lang], {"cpu_seconds": 1, "wall_seconds": 30}) for lang in LANGS},
    **{f"sleep-{lang}": (lang, SLEEP[lang], {"wall_seconds": 1, "cpu_seconds": 5}) for lang in LANGS},
    **{f"fork-{lang}": (lang, FORK_BOMB[lang], {"wall_seconds": 5}) for lang in LANGS},
}


@pytest.fixture(scope="module")
def slow(interp: Interpreter) -> dict[str, Future[ExecutionResult]]:
    pool = ThreadPoolExecutor(max_workers=len(SLOW))
    futures = {
        name: pool.submit(run, interp, lang, code, f"probe-{name}", limits=SMALL.replace(**lim))
        for name, (lang, code, lim) in SLOW.items()
    }
    yield futures
    pool.shutdown(wait=True)


def probe(slow: dict[str, Future[ExecutionResult]], name: str) -> ExecutionResult:
    return slow[name].result(timeout=120)


@pytest.mark.parametrize("lang", LANGS)
def test_busy_loop_stops_at_the_cpu_limit(slow, interp, lang):
    r = probe(slow, f"cpu-{lang}")
    assert not r.ok
    assert r.limits_hit[0] == "cpu_time", r.limits_hit
    assert "CPU time limit of 1 s" in r.error["message"]
    assert r.cpu_ms >= 500  # it burned CPU until the limit (measured 850-1000 ms under load)
    assert "wall_time" not in r.limits_hit  # stopped by CPU, not by the 30 s wall limit
    assert leftovers(interp, f"probe-cpu-{lang}") == []


@pytest.mark.parametrize("lang", LANGS)
def test_sleep_stops_at_the_wall_clock_limit(slow, interp, lang):
    r = probe(slow, f"sleep-{lang}")
    assert r.limits_hit == ["wall_time"], (r.limits_hit, r.error)
    assert r.error["name"] == "TimeoutError"
    assert 1000 <= r.wall_ms < 60_000  # stopped after the limit, and long before the sleep ends
    assert r.cpu_ms < 1000
    assert leftovers(interp, f"probe-sleep-{lang}") == []


@pytest.mark.parametrize("lang", LANGS)
def test_fork_bomb_is_contained(slow, interp, lang):
    r = probe(slow, f"fork-{lang}")
    assert "processes" in r.limits_hit, (r.limits_hit, r.error, r.stderr[-300:])
    assert not r.ok
    assert leftovers(interp, f"probe-fork-{lang}") == []  # every process it made is gone
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the host can still start processes
    if lang != "shell":  # the session survives and still works
        again = run(
            interp, lang, {"python": "1 + 1", "javascript": "1 + 1", "r": "1 + 1"}[lang], f"probe-fork-{lang}"
        )
        assert again.ok and "2" in (again.stdout + str(again.results))


# ---------------------------------------------------------------- memory and output

ALLOC_TWICE = {
    "python": f"x = bytearray({TWICE_MEMORY})",
    "javascript": f"var big = Buffer.alloc({TWICE_MEMORY}); big.length",
    "r": f"x <- raw({TWICE_MEMORY})",
    "shell": f"{PY} -c 'x = bytearray({TWICE_MEMORY})'",
}
GIGABYTE_OUT = {
    "python": "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)",
    "javascript": "var chunk = 'x'.repeat(1 << 20);\nfor (let i = 0; i < 1024; i++) process.stdout.write(chunk);",
    "r": "chunk <- strrep('x', 2^20)\nfor (i in 1:1024) cat(chunk)",
    "shell": "head -c 1073741824 /dev/zero",
}


@pytest.mark.parametrize("lang", LANGS)
def test_allocating_twice_the_memory_limit_fails(interp, lang):
    r = run(interp, lang, ALLOC_TWICE[lang], f"mem-{lang}")
    assert "memory" in r.limits_hit, (r.limits_hit, r.error, r.stderr[-300:])
    assert not r.ok
    assert r.peak_memory_bytes < TWICE_MEMORY


@pytest.mark.parametrize("lang", LANGS)
def test_a_gigabyte_to_stdout_is_cut_at_the_output_limit(interp, lang):
    r = run(interp, lang, GIGABYTE_OUT[lang], f"out-{lang}")
    assert "output" in r.limits_hit, (r.limits_hit, r.error)
    assert r.truncated
    assert len(r.stdout.encode()) + len(r.stderr.encode()) <= SMALL.output_bytes
    assert "wall_time" not in r.limits_hit  # stopped by the output cap, not by the 10 s wall limit
    if lang != "shell":
        after = run(interp, lang, "1 + 1", f"out-{lang}")
        assert after.ok and not after.truncated and len(after.stdout) < 100  # nothing left over


# ---------------------------------------------------------------- files outside the work dir


def write_attempts(lang: str, targets: list[str], links: dict[str, str]) -> str:
    if lang == "python":
        return (
            "import os\n"
            + "".join(
                f"try:\n    os.symlink({src!r}, {name!r})\nexcept OSError:\n    pass\n"
                for name, src in links.items()
            )
            + f"for t in {targets!r}:\n"
            "    try:\n        with open(t, 'w') as f:\n            f.write('pwned')\n        print('OK', t)\n"
            "    except OSError as e:\n        print('DENIED', t, e.errno)\n"
        )
    if lang == "javascript":
        return (
            "var fs = require('fs');\n"
            + "".join(
                f"try {{ fs.symlinkSync({src!r}, {name!r}); }} catch (e) {{}}\n"
                for name, src in links.items()
            )
            + f"for (const t of {list(targets)!r}) {{\n"
            "  try { fs.writeFileSync(t, 'pwned'); console.log('OK', t); }\n"
            "  catch (e) { console.log('DENIED', t, e.code); }\n}"
        )
    if lang == "r":
        vec = "c(" + ", ".join(f'"{t}"' for t in targets) + ")"
        return (
            "".join(
                f'invisible(suppressWarnings(file.symlink("{src}", "{name}")))\n'
                for name, src in links.items()
            )
            + f"for (t in {vec}) {{\n"
            "  ok <- tryCatch({ suppressWarnings(writeLines('pwned', t)); TRUE }, error = function(e) FALSE)\n"
            "  cat(if (ok) 'OK' else 'DENIED', t, '\\n')\n}"
        )
    return "".join(f"ln -s '{src}' '{name}' 2>/dev/null\n" for name, src in links.items()) + "".join(
        f"if (echo pwned > '{t}') 2>/dev/null; then echo 'OK {t}'; else echo 'DENIED {t}'; fi\n"
        for t in targets
    )


@pytest.mark.parametrize("lang", LANGS)
def test_writing_outside_the_work_dir_fails(interp, lang, tmp_path):
    session = f"files-{lang}"
    sess = interp.session(session)
    tag = f"escape-{lang}-{os.getpid()}"
    host_target = tmp_path / f"{tag}-host-target"
    links = {"to_usr": "/usr/lib", "to_host": str(host_target), "to_root": "/"}
    targets = [
        f"/usr/{tag}",  # directly, into the read-only system
        f"/etc/{tag}",
        f"/{tag}",  # the sandbox's root (rootless, a tmpfs of the calling user's: made read-only)
        f"/dev/{tag}",  # likewise /dev (a tmpfs in RAM: writable, it would be a way round tmp_bytes)
        f"/dev/shm/{tag}",
        f"/opt/agentcore/{tag}",  # the interpreter's own code
        f"../{tag}",  # with ../ from /workspace
        f"../../../../../{tag}",
        f"{sess.dir}/{tag}",  # the work dir's host path
        f"to_usr/{tag}",  # through symlinks
        "to_host",
        f"to_root/{tag}",
    ]
    r = run(interp, lang, write_attempts(lang, targets, links), session)
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == len(targets), (r.stdout, r.stderr, r.error)
    assert all(line.startswith("DENIED") for line in lines), r.stdout
    host_paths_untouched(
        [
            Path(f"/usr/{tag}"),
            Path(f"/etc/{tag}"),
            Path(f"/{tag}"),
            sess.dir / tag,
            sess.dir.parent / tag,
            host_target,
        ]
    )


def test_host_file_api_refuses_what_the_sandbox_planted(interp, tmp_path):
    """readFiles / writeFiles run on the host: a symlink, .. or absolute path must not lead out."""
    session = "planted"
    host_target = tmp_path / "host-written"
    r = interp.execute_code(
        "import os\nos.symlink('/etc/shadow', 'shadow')\nos.symlink('/etc', 'etc')\n"
        f"os.symlink({str(host_target)!r}, 'out')\nos.mkfifo('fifo')\nprint('planted')",
        session=session,
    )
    assert r.stdout == "planted\n", r.error
    for path in ("shadow", "etc/passwd", "fifo", "../work/x", "/etc/passwd"):
        with pytest.raises(Exception) as err:
            interp.read_files([path], session=session)
        assert "Traceback" not in str(err.value)
    for path in ("out", "etc/evil", "../evil", "/tmp/evil"):
        with pytest.raises(Exception):
            interp.write_files([{"path": path, "text": "pwned"}], session=session)
    host_paths_untouched([host_target, Path("/etc/evil"), Path("/tmp/evil")])
    interp.remove_files(["etc"], session=session)  # removes the link, not /etc
    assert Path("/etc/passwd").exists()


# ---------------------------------------------------------------- secrets


READ_SECRETS = {
    "python": (
        "import glob, os\nprint(dict(os.environ))\n"
        "for p in ['/proc/1/environ', '/proc/self/environ', *glob.glob('/proc/[0-9]*/environ'), '/etc/shadow', '/root']:\n"
        "    try:\n        print(p, open(p, 'rb').read())\n    except OSError as e:\n        print(p, 'DENIED', e.errno)"
    ),
    "javascript": (
        "var fs = require('fs');\nconsole.log(JSON.stringify(process.env));\n"
        "for (const p of ['/proc/1/environ', '/proc/self/environ', ...fs.readdirSync('/proc').filter(d => /^\\d+$/.test(d)).map(d => `/proc/${d}/environ`)]) {\n"
        "  try { console.log(p, fs.readFileSync(p).toString()); } catch (e) { console.log(p, 'DENIED', e.code); }\n}"
    ),
    "r": (
        "print(Sys.getenv())\n"
        "for (p in c('/proc/1/environ', '/proc/self/environ', Sys.glob('/proc/[0-9]*/environ'))) {\n"
        "  x <- tryCatch({ b <- readBin(p, 'raw', 100000); b[b == as.raw(0)] <- as.raw(32); rawToChar(b) },\n"
        "                error = function(e) 'DENIED', warning = function(w) 'DENIED')\n"
        "  cat(p, x, '\\n')\n}"
    ),
    "shell": "env; for f in /proc/1/environ /proc/self/environ /proc/[0-9]*/environ; do echo \"$f\"; tr '\\0' ' ' < \"$f\"; echo; done",
}


@pytest.mark.parametrize("lang", LANGS)
def test_host_secrets_do_not_reach_the_sandbox(interp, lang, planted_secret):
    assert os.environ[SECRET_NAME] == planted_secret  # it is there, in the parent
    r = run(interp, lang, READ_SECRETS[lang], f"secrets-{lang}")
    seen = r.stdout + r.stderr
    assert "/proc/1/environ" in seen  # the probe did run
    assert SECRET not in seen and SECRET_NAME not in seen
    if lang != "shell":  # and bwrap itself (the sandbox's pid 1) never had it either
        kernel = interp.session(f"secrets-{lang}").kernels[lang]
        for pid in (kernel.launched.init_pid, kernel.pid):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except PermissionError:
                # rootless, pid 1 is our init, not dumpable: unreadable from the sandbox (checked
                # above, /proc/1/environ) and from the host alike
                assert ROOTLESS and pid == kernel.launched.init_pid
                assert "/proc/1/environ DENIED" in seen or lang != "python"
                continue
            assert SECRET.encode() not in environ and b"AGENTCORE_HOME" not in environ


# ---------------------------------------------------------------- network

CONNECT = {
    "python": (
        "import socket\ntry:\n    s = socket.create_connection(({host!r}, {port}), timeout=5)\n"
        "    s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n    data = b''\n"
        "    while chunk := s.recv(4096):\n        data += chunk\n    print('CONNECTED', data)\n"
        "except OSError as e:\n    print('FAILED', e.errno, e)"
    ),
    "javascript": (
        "var net = require('net');\nnew Promise((resolve) => {{\n"
        "  const s = net.connect({{host: {host!r}, port: {port}}});\n  let data = '';\n"
        "  s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));\n  s.on('data', (d) => data += d);\n"
        "  s.on('end', () => resolve('CONNECTED ' + data));\n  s.on('error', (e) => resolve('FAILED ' + e.code));\n}})"
    ),
    "r": (
        "x <- tryCatch({{ con <- socketConnection({host!r}, {port}, blocking = TRUE, timeout = 5)\n"
        "  writeLines('GET / HTTP/1.0\\r\\n', con); r <- readLines(con, warn = FALSE); close(con); paste('CONNECTED', paste(r, collapse = ' ')) }},\n"
        "  error = function(e) paste('FAILED', conditionMessage(e)), warning = function(w) paste('FAILED', conditionMessage(w)))\n"
        "cat(x, '\\n')"
    ),
    "shell": PY
    + " -c \"import socket\ntry:\n  s = socket.create_connection(('{host}', {port}), timeout=5); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print('CONNECTED', s.makefile('rb').read())\nexcept OSError as e:\n  print('FAILED', e.errno, e)\"",
}


def connect(interp: Interpreter, lang: str, host: str, port: int, session: str, **kw: Any) -> str:
    r = run(interp, lang, CONNECT[lang].format(host=host, port=port), session, **kw)
    return r.stdout + "".join(str(x["data"].get("text/plain", "")) for x in r.results) + r.stderr


@pytest.mark.parametrize("lang", LANGS)
def test_tcp_to_a_host_loopback_service_is_refused(interp, host_service: HostService, lang):
    out = connect(interp, lang, "127.0.0.1", host_service.port, f"net-{lang}")
    assert "FAILED" in out and "host-service-secret-data" not in out, out


@pytest.mark.parametrize("lang", LANGS)
def test_allow_net_reaches_exactly_the_permitted_pair(interp, host_service: HostService, lang):
    """The same probe succeeds with --allow-net (so the refusal above is the sandbox, not the probe)."""
    pair = f"127.0.0.1:{host_service.port}"
    out = connect(interp, lang, "127.0.0.1", host_service.port, f"allow-{lang}", allow_net=[pair])
    assert "host-service-secret-data" in out, out
    other = connect(interp, lang, "127.0.0.1", host_service.port + 1, f"allow-{lang}", allow_net=[pair])
    assert "FAILED" in other
    after = connect(
        interp, lang, "127.0.0.1", host_service.port, f"allow-{lang}"
    )  # permits last one execution
    assert "FAILED" in after and "host-service-secret-data" not in after


def test_allowed_host_names_resolve_inside_the_sandbox(interp, host_service: HostService):
    out = connect(
        interp,
        "python",
        "localhost",
        host_service.port,
        "allow-name",
        allow_net=[f"localhost:{host_service.port}"],
    )
    assert "host-service-secret-data" in out


def test_allow_net_is_checked_against_the_callers_policy(tmp_path, host_service: HostService):
    class Identity:  # the identity seam: this caller may run code but has no net: scopes
        def authorize(self, token, scope, *, session_id=None):
            if scope.startswith("net:"):
                raise NotPermittedError(f"not permitted: {scope}")
            return {"sub": "agent"}

    from agentcore_nb.eventlog.memory import InMemoryEventLog

    log = InMemoryEventLog()
    with Interpreter(tmp_path / "i", limits=SMALL, services={"identity": Identity()}, event_log=log) as it:
        with pytest.raises(NotPermittedError, match=f"net:127.0.0.1:{host_service.port}"):
            it.execute_code("print('ran')", allow_net=[f"127.0.0.1:{host_service.port}"], token="t")
        assert it.sessions() == []  # nothing ran
    (event,) = [e for e in log.events() if e.type == "ActionEvent"]
    assert event.status == "denied" and "net:127.0.0.1" in event.error


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("target", [("1.1.1.1", 443), ("8.8.8.8", 53)])
def test_tcp_to_an_outside_address_fails(interp, lang, target):
    out = connect(interp, lang, target[0], target[1], f"outside-{lang}")
    assert "CONNECTED" not in out and "FAILED" in out, out
    if lang != "r":  # R says only "cannot be opened"; the others name the reason
        assert "101" in out or "ENETUNREACH" in out, out


DNS = {
    "python": "import socket\ntry:\n    print('RESOLVED', socket.getaddrinfo('pypi.org', 443))\nexcept OSError as e:\n    print('FAILED', e)",
    "javascript": "new Promise((resolve) => require('dns').lookup('pypi.org', (e, a) => resolve(e ? 'FAILED ' + e.code : 'RESOLVED ' + a)))",
    "r": "x <- utils::nsl('pypi.org')\ncat(if (is.null(x)) 'FAILED' else paste('RESOLVED', x), '\\n')",
    "shell": "getent hosts pypi.org && echo RESOLVED || echo FAILED",
}


@pytest.mark.parametrize("lang", LANGS)
def test_dns_lookups_fail(interp, lang):
    r = run(interp, lang, DNS[lang], f"dns-{lang}")
    out = r.stdout + "".join(str(x["data"].get("text/plain", "")) for x in r.results)
    assert "FAILED" in out and "RESOLVED" not in out, (out, r.error)


# ---------------------------------------------------------------- processes and sessions

SPAWN_CHILDREN = {
    "python": (
        "import os, subprocess\np = subprocess.Popen(['sleep', '60'])\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        import time; time.sleep(60)\n    os._exit(0)\n"
        "print(p.pid)"
    ),
    "javascript": "var c = require('child_process').spawn('sleep', ['60'], {detached: true, stdio: 'ignore'}); c.unref(); c.pid",
    "r": "system('sleep 60', wait = FALSE)\nsystem('setsid sleep 60', wait = FALSE)",
    "shell": "sleep 60 & setsid sleep 60 & nohup sleep 60 >/dev/null 2>&1 & echo started",
}


@pytest.mark.parametrize("lang", LANGS)
def test_children_that_outlive_the_execution_are_reaped(interp, lang):
    session = f"children-{lang}"
    r = run(interp, lang, SPAWN_CHILDREN[lang], session)
    assert r.ok, r.error
    if lang != "shell":
        assert r.reaped >= 1
    assert leftovers(interp, session) == []
    if lang == "python":
        pid = int(r.stdout.split()[0])
        check = interp.execute_code(
            f"import os\ntry:\n    os.kill({pid}, 0)\nexcept ProcessLookupError:\n    print('gone')",
            session=session,
        )
        assert check.stdout == "gone\n"


PLANT = {
    "python": "secret_var = 'A-secret'\nopen('a-secret.txt', 'w').write('A-secret')",
    "javascript": "var secret_var = 'A-secret'; require('fs').writeFileSync('a-secret.txt', 'A-secret');",
    "r": "secret_var <- 'A-secret'\nwriteLines('A-secret', 'a-secret.txt')",
}
SNOOP = {
    "python": (
        "import os\nprint('var', globals().get('secret_var'))\n"
        "for p in ['a-secret.txt', {a_work!r} + '/a-secret.txt']:\n"
        "    try:\n        print('READ', open(p).read())\n    except OSError as e:\n        print('DENIED', e.errno)\n"
        "print('procs', sorted(int(d) for d in os.listdir('/proc') if d.isdigit()))"
    ),
    "javascript": (
        "var fs = require('fs');\nconsole.log('var', typeof secret_var);\n"
        "for (const p of ['a-secret.txt', {a_work!r} + '/a-secret.txt']) {{\n"
        "  try {{ console.log('READ', fs.readFileSync(p, 'utf8')); }} catch (e) {{ console.log('DENIED', e.code); }}\n}}"
    ),
    "r": (
        "cat('var', exists('secret_var'), '\\n')\n"
        "for (p in c('a-secret.txt', paste0({a_work!r}, '/a-secret.txt'))) cat(if (file.exists(p)) 'READ' else 'DENIED', '\\n')"
    ),
}


@pytest.mark.parametrize("lang", KERNEL_LANGS)
def test_session_b_cannot_read_session_a(interp, lang):
    a = run(interp, lang, PLANT[lang], f"A-{lang}")
    assert a.ok, a.error
    a_sess, b_sess = interp.session(f"A-{lang}"), interp.session(f"B-{lang}")
    if ROOTLESS:  # one uid for all of the user's sessions: B is kept out by its namespaces alone
        assert a_sess.uid == b_sess.uid == os.getuid()
    else:
        assert a_sess.uid != b_sess.uid
    r = run(interp, lang, SNOOP[lang].format(a_work=str(a_sess.workdir)), f"B-{lang}")
    assert r.ok, r.error
    assert "A-secret" not in r.stdout and "READ" not in r.stdout
    assert "var None" in r.stdout or "var undefined" in r.stdout or "var FALSE" in r.stdout
    if lang == "python":  # B sees only its own processes: its pid 1 and its interpreter (rootless,
        # the Python interpreter is pid 1 itself)
        assert r.stdout.split("procs ")[1].strip() == ("[1]" if ROOTLESS else "[1, 2]")
    mode = a_sess.workdir.stat()
    assert mode.st_uid == a_sess.uid and (mode.st_mode & 0o077) == 0  # and on the host, A's dir is A's alone


def test_a_command_in_session_b_cannot_read_session_a(interp):
    assert run(interp, "python", PLANT["python"], "A-shell").ok
    a_work = interp.session("A-shell").workdir
    r = run(interp, "shell", f"cat a-secret.txt {a_work}/a-secret.txt; ls /workspace; echo done", "B-shell")
    assert "A-secret" not in r.stdout and r.stdout.endswith("done\n")
    assert "No such file" in r.stderr


# ---------------------------------------------------------------- privileges


def test_code_runs_unprivileged_and_cannot_gain_privileges(interp):
    home_file = Path(os.environ.get("HOME", "/root")) / ".bashrc"  # root's, or the test user's
    if ROOTLESS and not home_file.exists():
        home_file.write_text("# the calling user's home: the sandbox must not see it\n")
    checkout = Path(__file__).resolve().parents[2] / "README.md"
    r = interp.execute_code(
        "import ctypes, os, subprocess\nprint('uid', os.getuid(), os.geteuid())\n"
        "try:\n    os.setuid(0); print('setuid OK')\nexcept OSError as e:\n    print('setuid DENIED', e.errno)\n"
        # root mode: pid 1 is root's; rootless: it is ours, and ignores every signal from inside
        "try:\n    os.kill(1, 9)\nexcept OSError as e:\n    print('kill-pid1 DENIED', e.errno)\n"
        "else:\n    import time; time.sleep(0.2)\n"
        "    print('kill-pid1', 'DENIED (ignored)' if os.path.exists('/proc/1/stat') else 'OK')\n"
        "for cmd in (['unshare', '-Ur', 'id'], ['unshare', '-n', 'true'], ['mount', '-o', 'remount,rw', '/usr']):\n"
        "    r = subprocess.run(cmd, capture_output=True, text=True)\n    print(cmd[0], 'DENIED' if r.returncode else 'OK', r.stderr.strip()[:60])\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', 'DENIED' if libc.ptrace(16, 1, 0, 0) != 0 else 'OK')\n"
        f"print('shadow', os.path.exists('/etc/shadow'), 'home', os.path.exists({str(home_file)!r}),"
        f" 'project', os.path.exists({str(checkout)!r}))\n"
        "print([line for line in open('/proc/self/status') if line.startswith(('Cap', 'NoNewPrivs', 'Seccomp:'))])\n"
        "print('host sockets', [p for p in ('/run', '/var/run', '/var/tmp', '/tmp/.X11-unix') if os.path.exists(p)])",
        session="privileges",
    )
    out = r.stdout
    uid = interp.session("privileges").uid
    assert f"uid {uid} {uid}" in out and uid != 0
    assert " OK" not in out, out
    assert out.count("DENIED") == 6, out
    assert "shadow False home False project False" in out
    assert home_file.exists() and checkout.exists()  # they are there, on the host
    status = {k: v.strip() for k, v in (x.split(":", 1) for x in ast.literal_eval(out.splitlines()[-2]))}
    assert all(status[f"Cap{kind}"] == "0" * 16 for kind in ("Inh", "Prm", "Eff", "Bnd", "Amb")), status
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", status  # 2: a filter is on
    assert "host sockets []" in out  # no host unix socket (dbus, docker, X11, ...) is reachable


PID1 = {
    "shell": (
        "for f in /proc/1/mem /proc/1/environ; do if cat $f >/dev/null 2>&1; then echo OK $f; "
        "else echo DENIED $f; fi; done\n"
        "if ls /proc/1/root/ >/dev/null 2>&1; then echo OK root; else echo DENIED root; fi\n"
        "kill -9 1 2>/dev/null; sleep 0.2; [ -e /proc/1/stat ] && echo DENIED kill; echo pid1 $(cat /proc/1/comm)"
    ),
    "javascript": (
        "var fs = require('fs'); var out = [];\n"
        "for (const p of ['/proc/1/mem', '/proc/1/environ']) {\n"
        "  try { fs.readFileSync(p); out.push('OK ' + p); } catch (e) { out.push('DENIED ' + p); } }\n"
        "try { fs.readdirSync('/proc/1/root/'); out.push('OK root'); } catch (e) { out.push('DENIED root'); }\n"
        "try { process.kill(1, 'SIGKILL'); } catch (e) {}\n"
        "out.push(fs.existsSync('/proc/1/stat') ? 'DENIED kill' : 'OK kill');\n"
        "out.push('pid1 ' + fs.readFileSync('/proc/1/comm', 'utf8').trim()); out.join('\\n')"
    ),
}


@pytest.mark.parametrize("lang", ["shell", "javascript"])
def test_the_sandboxs_pid_1_is_out_of_reach(interp, lang):
    """Root mode: pid 1 is bwrap's, as root. Rootless: it is our init.py, with the code's own uid,
    so it must be filtered and not dumpable: its memory, environment and root stay closed."""
    r = run(interp, lang, PID1[lang], f"pid1-{lang}")
    out = r.stdout + "".join(str(x["data"].get("text/plain", "")) for x in r.results)
    assert out.count("DENIED") == 4 and "OK" not in out, out
    assert ("pid1 python" if ROOTLESS else "pid1 bwrap") in out, out


# ---------------------------------------------------------------- the notebook frontend


def test_sandbox_output_cannot_put_script_into_the_notebook(interp):
    """HTML, SVG or Markdown from the sandbox would be a trusted output in JupyterLab: script there
    could drive the kernel, which runs on the host. Only inert forms come back."""
    r = interp.execute_code(
        "import base64\n"
        "class Evil:\n"
        "    def _repr_html_(self): return '<script>alert(1)</script>'\n"
        "    def _repr_svg_(self): return '<svg onload=alert(1)></svg>'\n"
        "    def _repr_markdown_(self): return '<img src=x onerror=alert(1)>'\n"
        "    def _repr_png_(self): return b'<script>not a png</script>'\n"
        "    def __repr__(self): return 'Evil()'\n"
        "display(Evil())\n"
        "class Table:\n"
        "    def __repr__(self): return 'Table()'\n"
        "t = Table()\n"
        "display(t)\n",
        session="frontend",
    )
    assert r.ok, r.error
    assert [x["data"] for x in r.results] == [{"text/plain": "Evil()"}, {"text/plain": "Table()"}]
    table = interp.execute_code(  # a table made from hostile values comes back as data, escaped
        "import pandas as pd\npd.DataFrame({'<b onmouseover=alert(1)>': ['<img src=x onerror=alert(1)>']})",
        session="frontend",
        limits={"memory_bytes": 1 << 30},
    )
    html = table.results[0]["data"]["text/html"]
    assert "<img" not in html and "<b " not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_tables_are_rendered_by_the_host_with_values_escaped(interp):
    from agentcore_nb.interpreter.rich import safe_result

    forged = {
        "data": {
            "text/html": "<script>alert(1)</script>",
            "application/vnd.dataresource+json": {
                "schema": {
                    "fields": [{"name": "index"}, {"name": "<b onmouseover=x>"}],
                    "primaryKey": ["index"],
                },
                "data": [{"index": 0, "<b onmouseover=x>": "<img src=x onerror=alert(1)>"}],
            },
        },
        "metadata": {"rows": 1, "evil": "<script>"},
    }
    safe = safe_result(forged)
    html = safe["data"]["text/html"]
    assert "<script" not in html and "<img" not in html and "<b " not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert safe["metadata"] == {"rows": 1}
