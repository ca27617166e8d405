"""Channels to the assistant and its tools outside the web UI: CLI rendering, bots, MCP."""
