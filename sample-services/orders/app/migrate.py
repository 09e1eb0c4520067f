"""`python -m app.migrate`: upgrade the database schema to the latest revision and exit.

For deployments that set `MIGRATE_ON_START=false` and migrate in a Job or init container.
"""

from app.core.config import get_settings
from app.core.db import run_migrations

if __name__ == "__main__":
    run_migrations(get_settings().sqlalchemy_url)
