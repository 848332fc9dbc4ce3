"""The flow store, the flow JSON that jq sees, filtering, compare, diff and HAR."""
