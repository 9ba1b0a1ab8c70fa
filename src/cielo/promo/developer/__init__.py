"""The developer panel: developers, their applications (Client IDs) and Access-Tokens (API.md §5)."""
