"""Audit trail: who changed what, when. Never the values of secrets."""
