"""OpenTelemetry export: each finished flow becomes one span following the GenAI semantic conventions."""
