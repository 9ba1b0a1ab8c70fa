"""cielo: the cielo24 white-label account API and the Cielo Promo Promotions API, one service."""

__version__ = "0.1.0"
