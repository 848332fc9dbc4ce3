"""The session viewer: one HTML page (package data `index.html`) over the blob `viewer.data` builds.

`flows export --html` writes it self-contained; the daemon serves it live on the mitmweb port
under `/ccproxy/` (`viewer.web`), behind the same token as mitmweb.
"""
