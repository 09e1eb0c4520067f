"""Settings, read from environment variables only."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Routers carry the full prefix themselves: metrics label requests by `route.path`.
API_V1_STR = "/api/v1"
DEFAULT_DATABASE = "products"


class Settings(BaseSettings):
    """Configuration of the products service.

    The operator injects `DATABASE_URL` (or the `DB_*` parts), `JWKS_URL`, `JWT_ISSUER`
    and `PORT`.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    service_name: str = "products"
    host: str = "0.0.0.0"  # every interface in a container; HOST=127.0.0.1 locally
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"

    database_url: str | None = None
    db_host: str | None = None
    db_port: int = 27017
    db_name: str | None = None
    db_user: str | None = None
    db_password: SecretStr | None = None
    db_timeout_seconds: float = Field(default=5.0, gt=0)

    jwks_url: str
    jwt_issuer: str
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=300)
    jwks_max_age_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)

    stock_lock_timeout_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _require_database(self) -> Settings:
        if not self.database_url and not self.db_host:
            raise ValueError("set DATABASE_URL (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD)")
        if self.database_url and not self.database_url.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("DATABASE_URL must start with mongodb://")
        return self

    @property
    def mongodb_url(self) -> str:
        """The MongoDB connection string."""
        if self.database_url:
            return self.database_url
        auth = ""
        if self.db_user:
            auth = quote(self.db_user, safe="")
            if self.db_password:
                auth += ":" + quote(self.db_password.get_secret_value(), safe="")
            auth += "@"
        return f"mongodb://{auth}{self.db_host}:{self.db_port}/{self.database_name}"

    @property
    def database_name(self) -> str:
        """The database: the URL's path, else `DB_NAME`, else `products`."""
        if self.database_url:
            path = urlsplit(self.database_url).path.strip("/")
            if path:
                return path
        return self.db_name or DEFAULT_DATABASE


@lru_cache
def get_settings() -> Settings:
    """Settings of this process, read once from the environment."""
    return Settings()  # required fields come from the environment
