"""`python -m app`: serve on 0.0.0.0:$PORT with JSON logs."""

import uvicorn

from app.core.config import get_settings
from app.core.logging import logging_config
from app.main import create_app


def main() -> None:
    """Run the service until SIGTERM."""
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.service_name, settings.log_level),
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
