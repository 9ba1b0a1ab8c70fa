"""The back office, /admin/v1 (API.md §4): what its route groups share (common.py; each
domain declares its own in ``promo/<domain>/admin_router.py``) and ``cielo admin import``."""
