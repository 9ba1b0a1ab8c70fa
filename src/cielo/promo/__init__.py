"""Cielo Promo — the Promotions API (API.md §2–§3), production and sandbox."""
