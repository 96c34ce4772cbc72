"""pytest hooks of the harness (placeholder until the harness lands)."""
