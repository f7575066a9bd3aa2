"""The kernelspec's names (kept apart so the CLI can use them without importing ipykernel)."""

KERNEL_NAME = "agentcore"
DISPLAY_NAME = "AgentCore (Python 3)"
