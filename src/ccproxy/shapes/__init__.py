"""Shapes: save a captured request's envelope, audit it, and replay it around live content.

store (files), capture (`shapes save`), api (save and list, shared by the CLI and the MCP tools),
audit (`shapes audit`), merge + apply + replay (the `shape` outbound hook), and the built-in shape
hooks `ids` and `cache`. Nothing here ships a
captured envelope: every shape is the user's own capture.
"""
