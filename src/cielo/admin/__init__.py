"""The back office, /admin/v1 (API.md §4): admin-scoped bearer tokens, JSON in and out."""
