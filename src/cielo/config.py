"""Settings, read once from ``CIELO_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def normalise_database_url(url: str) -> str:
    """Accept the spellings people type and return the async driver URL SQLAlchemy needs."""
    url = url.strip()
    for prefix in ("postgresql+asyncpg://", "sqlite+aiosqlite://"):
        if url.startswith(prefix):
            return url
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    raise ValueError(
        "CIELO_DATABASE_URL must start with postgresql:// (or postgresql+asyncpg://) or sqlite://"
    )


DEFAULT_PORT = 8000


def local_url(port: int = DEFAULT_PORT) -> str:
    """Where a service on this machine's loopback and ``port`` is reached."""
    return f"http://127.0.0.1:{port}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIELO_", extra="ignore")

    data_dir: Path = Field(default=Path(".cielo"), description="Where the embedded SQLite file and generated keys live.")
    database_url: str | None = Field(default=None, description="PostgreSQL or SQLite URL; default: SQLite in data_dir.")
    redis_url: str | None = Field(default=None, description="Redis for state shared between processes.")
    redis_timeout: float = Field(
        default=0.5, gt=0, le=10,
        description="Seconds to connect to Redis or to wait for an answer; past it, limits are counted in each "
                    "process until Redis answers again (the degraded mode).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Addresses (comma-separated, CIDR ranges or *) of the proxies whose X-Forwarded-For and "
                    "X-Forwarded-Proto are believed: the client's address and scheme behind a load balancer.",
    )
    secret_keys: str | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first; default: generated into data_dir/secret.keys.",
    )
    signing_key: str | None = Field(
        default=None,
        description="64 hex digits; default: generated into data_dir/signing.key (CSRF, card fingerprints).",
    )
    cookie_secure: bool = Field(
        default=False, description="Mark cookies Secure even on plain HTTP (they always are on HTTPS)."
    )
    public_url: str | None = Field(
        default=None,
        description="The address clients reach the service at (default: http://127.0.0.1:<port of serve>, "
                    "http://127.0.0.1:8000 for the other commands); the sandbox's callback page lives there.",
    )
    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = Field(default=True, description="One structured line per request at INFO.")
    telemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry (traces, metrics and logs through the globally configured "
                    "providers); off, no request looks for a provider.",
    )
    cache: bool = Field(default=True, description="Read caches with exact invalidation (on file SQLite and PostgreSQL).")
    search_index: bool = Field(
        default=True,
        description="Answer promotion searches from each process's in-memory index of points, kept exact through the "
                    "promotions' change log (needs `cache`); off: every search queries the database's spatial index.",
    )
    max_body_bytes: int = Field(default=65536, ge=1024, description="Largest request body accepted.")
    flow_starts_per_minute: int = Field(
        default=300, ge=1, description="Sign-ins and card registrations begun (GET /login, GET /cards) a minute from "
                                       "one address; ten times as many for one client.")
    db_pool_size: int = Field(default=20, ge=1)
    db_command_timeout: float = Field(
        default=30, ge=1, description="Seconds a PostgreSQL statement of `serve` or `worker` may take before it is "
                                      "abandoned (a server gone silent is answered with a 503, not waited for).")
    queue_consumer: bool = Field(
        default=True, description="Process subscription requests inside `cielo serve` (turn off when running `cielo worker`)."
    )
    queue_max_attempts: int = Field(
        default=5, ge=1, le=100,
        description="Times a subscription request's processing may fail before it is set aside as REJECTED (API.md §3.3).",
    )
    queue_retry_seconds: float = Field(
        default=1.0, ge=0, le=3600,
        description="Wait before a failed subscription request is tried again, doubled at each failure (at most 5 minutes).",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return normalise_database_url(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("CIELO_PUBLIC_URL must be an http(s) address such as http://127.0.0.1:8000")
        return value

    @property
    def base_url(self) -> str:
        """The public address, without a trailing slash."""
        return self.public_url or local_url()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cielo.db').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
