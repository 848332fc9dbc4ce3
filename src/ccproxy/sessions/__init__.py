"""Session analysis: pure functions over a flow's request, response and headers (no SQLite, no mitmproxy).

Each module here can run at write time (per-flow facts) or over flows read back from the store.
"""
