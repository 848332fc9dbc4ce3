"""Start and stop the mitmproxy master, its listeners, the runtime state file and logging."""
