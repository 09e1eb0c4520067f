"""Settings, read from environment variables only."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Routers carry the full prefix themselves: metrics label requests by `route.path`.
API_V1_STR = "/api/v1"


class Settings(BaseSettings):
    """Configuration of the orders service.

    The operator injects `DATABASE_URL` (or the `DB_*` parts), `PRODUCTS_URL`,
    `JWKS_URL`, `JWT_ISSUER` and `PORT`.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    service_name: str = "orders"
    host: str = "0.0.0.0"  # every interface in a container; HOST=127.0.0.1 locally
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"

    database_url: str | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str | None = None
    db_user: str | None = None
    db_password: SecretStr | None = None
    db_pool_size: int = Field(default=10, ge=1)
    migrate_on_start: bool = True

    products_url: str
    products_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    products_attempts: int = Field(default=3, ge=1, le=10)
    products_backoff_seconds: float = Field(default=0.05, ge=0, le=5)

    jwks_url: str
    jwt_issuer: str
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=300)
    jwks_max_age_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _require_database(self) -> Settings:
        if not self.database_url and not self.db_host:
            raise ValueError("set DATABASE_URL (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD)")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The PostgreSQL URL for SQLAlchemy with the psycopg (v3) driver."""
        if self.database_url:
            scheme, sep, rest = self.database_url.partition("://")
            if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
                raise ValueError("DATABASE_URL must start with postgresql://")
            return f"postgresql+psycopg://{rest}"
        auth = quote(self.db_user or "", safe="")
        if self.db_password:
            auth += ":" + quote(self.db_password.get_secret_value(), safe="")
        name = quote(self.db_name or "", safe="")
        return f"postgresql+psycopg://{auth}@{self.db_host}:{self.db_port}/{name}"


@lru_cache
def get_settings() -> Settings:
    """Settings of this process, read once from the environment."""
    return Settings()  # required fields come from the environment
