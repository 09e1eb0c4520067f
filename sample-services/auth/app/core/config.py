"""Settings, read from environment variables only (no files, no defaults for secrets)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Routers carry the full prefix themselves: metrics label requests by `route.path`.
API_V1_STR = "/api/v1"


class Settings(BaseSettings):
    """Configuration of the auth service.

    The operator injects `DATABASE_URL` (or the `DB_*` parts) and `PORT`.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    service_name: str = "auth"
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

    jwt_issuer: str = "auth"
    jwt_audience: str | None = None
    jwt_private_key_file: Path | None = None
    jwt_extra_public_key_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    access_token_expire_seconds: int = Field(default=900, ge=30, le=86400)

    admin_email: str | None = None
    admin_password_file: Path | None = None
    admin_password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _split_key_files(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("jwt_extra_public_key_files", "JWT_EXTRA_PUBLIC_KEY_FILES"):
                raw = data.get(key)
                if isinstance(raw, str):
                    data[key] = [p.strip() for p in raw.split(",") if p.strip()]
        return data

    @model_validator(mode="after")
    def _require_database(self) -> Settings:
        if not self.database_url and not self.db_host:
            raise ValueError("set DATABASE_URL (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD)")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The PostgreSQL URL for SQLAlchemy with the psycopg (v3) driver."""
        return postgres_sqlalchemy_url(
            self.database_url,
            host=self.db_host,
            port=self.db_port,
            name=self.db_name,
            user=self.db_user,
            password=self.db_password.get_secret_value() if self.db_password else None,
        )

    def bootstrap_admin_password(self) -> str | None:
        """The bootstrap admin password: `ADMIN_PASSWORD_FILE` (a Secret) or `ADMIN_PASSWORD`."""
        if self.admin_password_file is not None:
            return self.admin_password_file.read_text(encoding="utf-8").strip()
        return self.admin_password.get_secret_value() if self.admin_password else None


def postgres_sqlalchemy_url(
    database_url: str | None,
    *,
    host: str | None,
    port: int,
    name: str | None,
    user: str | None,
    password: str | None,
) -> str:
    """Turn `postgresql://user:pass@host:port/db` (or the `DB_*` parts) into a psycopg URL."""
    if database_url:
        scheme, sep, rest = database_url.partition("://")
        if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
            raise ValueError("DATABASE_URL must start with postgresql://")
        return f"postgresql+psycopg://{rest}"
    auth = quote(user or "", safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return f"postgresql+psycopg://{auth}@{host}:{port}/{quote(name or '', safe='')}"


@lru_cache
def get_settings() -> Settings:
    """Settings of this process, read once from the environment."""
    return Settings()
