"""Built-in hooks, one per module; name them in `hooks.inbound`/`hooks.outbound` as `ccproxy.hooks.<name>`."""
