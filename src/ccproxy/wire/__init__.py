"""The wire formats and the pure translators between them; nothing here imports mitmproxy."""
