"""R2: security headers on every response.

The Content-Security-Policy allows no inline script at all: templates keep JavaScript in
portal/static/js/ and CSS in portal/static/*.css, and pass data through data-* attributes or
<script type="application/json"> blocks (data, never executed). Only style="…" attributes are
tolerated (style-src-attr), for small layout touches.
"""
from __future__ import annotations

from flask import Flask

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "object-src 'none'",
    "base-uri 'self'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Production only: a development server on http://localhost must not teach the browser https-only.
HSTS = "max-age=31536000; includeSubDomains"


def install_security_headers(app: Flask) -> None:
    production = app.config.get("ENV_MODE") == "production" and not app.debug and not app.testing

    @app.after_request
    def add_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
