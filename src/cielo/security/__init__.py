"""Secrets at rest, bearer tokens, passwords: the project's one place for cryptography."""
