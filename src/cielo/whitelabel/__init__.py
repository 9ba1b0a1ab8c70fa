"""cielo24 — Canvas Studio white-label accounts (API.md §1)."""
