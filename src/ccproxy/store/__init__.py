"""Persistence: the SQLite flow store, content-addressed body chunks, the writer process and its
durable hand-off (spill files), migrations, the per-flow facts computed once at write time (answer,
conversation id, WebSocket messages, masking), and restoring stored flows into mitmweb's view.

Nothing here knows how a flow set is chosen or shown: that is `ccproxy.flows` (the library) above.
"""
