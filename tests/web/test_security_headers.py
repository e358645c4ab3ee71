"""R2: every URL in the URL map answers with the security headers (as anonymous and as an admin), and no
template carries inline script, inline event handlers or <style> blocks."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from webtools import add_one_of_everything, build_world, endpoint_url, login, make_staff_user, url_map_pairs

from tests.conftest import make_user

APP, PAIRS = url_map_pairs()
GETS = [e for m, e in PAIRS if m == "GET"]
POSTS = [e for m, e in PAIRS if m == "POST"]
TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"

EXPECTED = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
CSP_MUST = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
            "form-action 'self'", "object-src 'none'", "base-uri 'self'"]


def assert_security_headers(resp, where: str) -> None:
    for name, value in EXPECTED.items():
        assert resp.headers.get(name) == value, f"{where}: {name}={resp.headers.get(name)!r}"
    csp = [d.strip() for d in resp.headers.get("Content-Security-Policy", "").split(";")]
    missing = [d for d in CSP_MUST if d not in csp]
    assert not missing, f"{where}: CSP lacks {missing}"
    script = next(d for d in csp if d.startswith("script-src"))
    assert "unsafe-inline" not in script and "unsafe-eval" not in script, where


def _answers(app, endpoint, method):
    world = add_one_of_everything(build_world(make_staff_user()))
    admin = make_user("admin@example.test", role="admin")
    url = endpoint_url(app, endpoint, world, admin.id)
    out = []
    for signed_in in (False, True):
        with app.app_context():
            client = app.test_client()
            if signed_in:
                login(client, admin)
            out.append(client.open(url, method=method, data={} if method == "POST" else None))
    return out


@pytest.mark.parametrize("endpoint", GETS)
def test_r2_every_get_carries_the_security_headers(app, queue_redis, endpoint):
    for resp in _answers(app, endpoint, "GET"):
        assert_security_headers(resp, f"GET {endpoint} {resp.status_code}")


@pytest.mark.parametrize("endpoint", POSTS)
def test_r2_every_post_carries_the_security_headers(app, queue_redis, endpoint):
    for resp in _answers(app, endpoint, "POST"):
        assert_security_headers(resp, f"POST {endpoint} {resp.status_code}")


def test_r2_errors_carry_the_headers_and_hsts_only_in_production(app_factory):
    dev = app_factory(WTF_CSRF_ENABLED=False)
    resp = dev.test_client().get("/no-such-page")
    assert resp.status_code == 404
    assert_security_headers(resp, "404")
    assert "Strict-Transport-Security" not in resp.headers
    prod = app_factory(WTF_CSRF_ENABLED=False, ENV_MODE="production", TESTING=False)
    resp = prod.test_client().get("/login")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert_security_headers(resp, "production /login")


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S)
STYLE_BLOCK = re.compile(r"<style\b", re.I)


def _problems(text: str) -> list[str]:
    found = []
    for name, pattern in (("inline <script>", INLINE_SCRIPT), ("on*= handler", HANDLER), ("<style>", STYLE_BLOCK)):
        found += [f"{name} at line {text[:m.start()].count(chr(10)) + 1}" for m in pattern.finditer(text)]
    return found


def test_r2_the_template_scan_finds_what_it_looks_for():
    bad = '<script>alert(1)</script><a onclick="x()"></a><style>p{}</style>'
    assert len(_problems(bad)) == 3
    good = ('<script src="/static/js/a.js" defer></script><script type="application/json" id="d">{}</script>'
            '<p style="margin:0" data-online="1">on=x</p>')
    assert _problems(good) == []


def test_r2_no_template_has_inline_script_handlers_or_style_blocks():
    """Until every branch is merged, schedule/* and settings/exchange/_config_js.html (moved by other
    helpers) may still fail here; everything else must already be clean."""
    found = {str(p.relative_to(TEMPLATES)): _problems(p.read_text()) for p in sorted(TEMPLATES.rglob("*.html"))}
    found = {k: v for k, v in found.items() if v}
    assert found == {}
