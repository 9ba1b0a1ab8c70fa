"""The developer panel: developers, their applications (Client IDs) and Access-Tokens (CONTRACT §5)."""
