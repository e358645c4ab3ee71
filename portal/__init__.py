"""Sundial portal: create_app() builds the Flask app; nothing connects at import time."""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    # Flask is imported here, not at the top: `import portal.sync` runs this file first and must stay light.
    from flask import Flask, render_template

    from .config import load_config

    app = Flask(__name__, instance_path=os.environ.get("SUNDIAL_INSTANCE_PATH") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    from .instance_files import secure_instance

    secure_instance(app.instance_path, app.config.get("SQLALCHEMY_DATABASE_URI"))

    from . import models  # noqa: F401  (register tables)
    from .extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"),
                     render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from .auth import bp as auth_bp
    from .auth.access import install_login_manager
    from .schedule import bp as schedule_bp
    from .settings import bp as settings_bp
    from .settings.exchange import bp as exchange_bp

    install_login_manager(login_manager)
    for bp in (auth_bp, schedule_bp, settings_bp, exchange_bp):
        app.register_blueprint(bp)

    from .cli import register_cli
    from .security_headers import install_security_headers
    from .templating import register_templating

    register_cli(app)
    register_templating(app)
    install_security_headers(app)

    from .ops import init_ops

    init_ops(app)

    @app.errorhandler(403)
    def forbidden(_e):
        return render_template("errors/403.html"), 403

    @app.errorhandler(404)
    def not_found(_e):
        return render_template("errors/404.html"), 404

    @app.errorhandler(413)
    def too_large(_e):
        return render_template("errors/413.html"), 413

    @app.errorhandler(429)
    def too_many(_e):
        return render_template("errors/429.html"), 429

    logging.getLogger("portal").setLevel(getattr(logging, app.config["LOG_LEVEL"], logging.INFO))
    return app
