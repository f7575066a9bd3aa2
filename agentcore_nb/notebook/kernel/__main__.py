"""``python -m agentcore_nb.notebook.kernel -f CONNECTION_FILE``: start the AgentCore kernel."""

from agentcore_nb.notebook.kernel import main

if __name__ == "__main__":
    main()
