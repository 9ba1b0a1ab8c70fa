"""Cielo Promo — the Promotions API (CONTRACT §2–§3), production and sandbox."""
