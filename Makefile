# The two commands the README opens with. Both set up everything first (idempotent).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint typecheck unit bench clean

setup:
	@./.ci/setup

# The showcase notebook, headless on the offline reasoner (no API key): its answer, then the trace.
# Then the same notebook exported as a graph bundle and run with no kernel (`agentcore run local`),
# from the notebook's folder, where its cells read their files.
demo: setup
	@$(PY) -m agentcore_nb.cli agent run notebooks/00-showcase.ipynb --agent support \
		--prompt "Where is my order 1234? Was my refund processed?"
	@$(PY) -m agentcore_nb.cli export notebooks/00-showcase.ipynb -o build/showcase-bundle
	@cd notebooks && $(CURDIR)/$(PY) -m agentcore_nb.cli run local ../build/showcase-bundle
	@# ... then served over HTTP (the AgentCore Runtime contract) on a free port, asked once, stopped.
	@cd notebooks && PORT=$$($(CURDIR)/$(PY) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') && \
	{ $(CURDIR)/$(PY) -m agentcore_nb.cli serve ../build/showcase-bundle --port $$PORT & PID=$$!; } && \
	trap 'kill -TERM $$PID 2>/dev/null; wait $$PID' EXIT && \
	$(CURDIR)/$(PY) -c "import httpx, sys, time; t = time.time() + 60; exec('while time.time() < t:\n try:\n  httpx.get(\"http://127.0.0.1:$$PORT/ping\"); break\n except httpx.HTTPError: time.sleep(0.2)')" && \
	$(CURDIR)/$(PY) -m agentcore_nb.cli invoke '{}' --url http://127.0.0.1:$$PORT

lint: setup
	$(VENV)/bin/ruff check agentcore_nb tests bench
	$(VENV)/bin/ruff format --check agentcore_nb tests bench

typecheck: setup
	$(VENV)/bin/mypy agentcore_nb

unit: setup
	$(PY) -m pytest -q

test: lint typecheck unit

bench: setup
	$(PY) bench/graph_overhead.py --quick

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
