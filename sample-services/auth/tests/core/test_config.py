from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def test_database_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p%40ss@db:5432/auth")
    monkeypatch.setenv("PORT", "9000")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p%40ss@db:5432/auth"
    assert settings.port == 9000


def test_database_url_from_db_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for key, value in {
        "DB_HOST": "db.shop.svc",
        "DB_PORT": "5433",
        "DB_NAME": "auth",
        "DB_USER": "auth",
        "DB_PASSWORD": "p@ss:/word",
    }.items():
        monkeypatch.setenv(key, value)
    assert Settings().sqlalchemy_url == (
        "postgresql+psycopg://auth:p%40ss%3A%2Fword@db.shop.svc:5433/auth"
    )


def test_missing_database_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DATABASE_URL", "DB_HOST"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValidationError, match="set DATABASE_URL"):
        Settings()


def test_wrong_scheme_is_rejected() -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        _ = Settings(database_url="mysql://u:p@h/db").sqlalchemy_url


def test_extra_public_key_files_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("JWT_EXTRA_PUBLIC_KEY_FILES", "/keys/old.pem, /keys/older.pem")
    assert [str(p) for p in Settings().jwt_extra_public_key_files] == [
        "/keys/old.pem",
        "/keys/older.pem",
    ]
