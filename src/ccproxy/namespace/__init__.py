"""The capture jail: a rootless user+net+mount+pid namespace whose only route out is WireGuard into ccproxy.

`jail.run_inspect` is the entry point (`ccproxy run --inspect`); `status` and `doctor` back the
`ccproxy namespace` commands; `listener` is what the daemon calls to open the WireGuard side.
"""
