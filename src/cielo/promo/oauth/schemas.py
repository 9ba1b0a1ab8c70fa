"""Wire models of the token endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class AccessTokenRequest(BaseModel):
    grant_type: Literal["authorization_code"]
    code: str = Field(min_length=1, description="The code the browser brought back to the redirect URL (one use).")
    code_verifier: str | SkipJsonSchema[None] = Field(
        default=None, pattern=r"^[A-Za-z0-9._~-]{43,128}$",
        description="The PKCE verifier, when /login was given a code_challenge (and only then).")


class RefreshTokenRequest(BaseModel):
    grant_type: Literal["refresh_token"]
    code: str = Field(min_length=1, description="The refresh_token; it works once (presenting it again revokes the grant).")


class TokenPair(BaseModel):
    access_token: str = Field(min_length=1)
    refresh_token: str = Field(min_length=1)
    token_type: Literal["Bearer"] = Field(description="Send the access_token in the Access-Token header.")
    expires_in: int = Field(ge=1, description="Seconds the access_token lives.")
