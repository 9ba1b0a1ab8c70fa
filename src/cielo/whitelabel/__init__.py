"""cielo24 — Canvas Studio white-label accounts (CONTRACT §1)."""
