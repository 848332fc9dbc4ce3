"""The MCP server inside the daemon: flow-inspection tools at `/mcp` and the `/mcp/notify` bridge.

`service.McpService` is what the daemon runs; `server.build_app` the ASGI app; `flowtools` the
answers (over `ccproxy.store.api`); `notifications` the per-task event buffer the
`inject_mcp_notifications` hook drains; `auth` the bearer token and its gate; `toolargs` the
arguments and the wrapper every tool module shares.
"""

#: Where the streamable-HTTP transport listens (the service names it in its URL, the server mounts it).
MCP_PATH = "/mcp"
