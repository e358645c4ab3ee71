"""Extensions created unbound; create_app binds them. Redis is opened on first use, once per app."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

if TYPE_CHECKING:
    from redis import Redis

# Stable constraint names so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def redis_connection() -> Redis:
    """The app's Redis client (RQ queues, mailbox locks, throttling state), made on first use."""
    from flask import current_app
    from redis import Redis

    ext = current_app.extensions
    conn = ext.get("sundial_redis")
    if conn is None:
        conn = ext["sundial_redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return conn
