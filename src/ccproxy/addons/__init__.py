"""mitmproxy addons, one per module; `ccproxy.daemon.chain` lists them in order."""
