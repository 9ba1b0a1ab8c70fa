"""The two isolated environments of the Promotions API."""

from __future__ import annotations

from enum import StrEnum


class Environment(StrEnum):
    PRODUCTION = "production"
    SANDBOX = "sandbox"

    @property
    def base_path(self) -> str:
        return "/promotions/v1" if self is Environment.PRODUCTION else "/sandbox/promotions/v1"


ENVIRONMENT_CHECK = "environment IN ('production', 'sandbox')"
