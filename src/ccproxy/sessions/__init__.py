"""Session analysis over recorded facts (what a session cost, ...): pure, reads flow JSON, never SQLite."""
