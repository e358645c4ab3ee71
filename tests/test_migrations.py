"""Flask-Migrate migrations build the same schema as the models, on SQLite and on PostgreSQL."""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def _upgraded_app(tmp_path, db_url, redis_url):
    from flask_migrate import downgrade, upgrade

    from portal import create_app

    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url, "TESTING": True})
    with app.app_context():
        upgrade()
    return app, upgrade, downgrade


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_models_on_both_databases(backend, tmp_path, redis_url, request):
    from portal.extensions import db

    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else request.getfixturevalue("pg_database_url")
    app, upgrade, downgrade = _upgraded_app(tmp_path, url, redis_url)
    with app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ on {backend}: {diff}"
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()
