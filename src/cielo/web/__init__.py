"""The web layer every API shares: routing, middleware, responses and error shapes, HTML pages,
health probes, and how `cielo serve` puts answers on the wire."""
