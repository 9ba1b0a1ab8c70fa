"""The back office, /admin/v1 (CONTRACT §4): admin-scoped bearer tokens, JSON in and out."""
