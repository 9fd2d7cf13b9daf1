"""The web app is served at `/` with a strict CSP; the API keeps its own answers."""

from __future__ import annotations

import pytest

INDEX = '<!doctype html><div id="root"></div><script type="module" src="/assets/app-1.js"></script>'


@pytest.fixture
def dist(app, tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1.js").write_text("console.log('flowlet')")
    (tmp_path / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    previous = app.config["WEB_DIST_DIR"]
    app.config["WEB_DIST_DIR"] = str(tmp_path)
    yield tmp_path
    app.config["WEB_DIST_DIR"] = previous


@pytest.mark.parametrize("path", ["/", "/transfer", "/accounts/1b2c", "/console/alerts", "/apiary"])
def test_app_paths_serve_the_shell_with_a_strict_csp(client, dist, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.get_data(as_text=True) == INDEX
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hashed_assets_are_cached_for_a_year(client, dist):
    response = client.get("/assets/app-1.js")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "console.log('flowlet')"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_root_files_of_the_build_are_served(client, dist):
    response = client.get("/favicon.svg")

    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"


def test_a_missing_asset_is_a_404_not_the_shell(client, dist):
    response = client.get("/assets/missing.js")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api", "/health/nope", "/docs/nope"])
def test_api_paths_keep_the_json_404(client, dist, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_on_an_api_route_is_still_405(client, dist):
    response = client.get("/api/v1/auth/login")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_api_responses_keep_the_api_csp(client, dist):
    response = client.get("/health")

    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_without_a_build_the_shell_says_how_to_build_it(app, client, tmp_path):
    previous = app.config["WEB_DIST_DIR"]
    app.config["WEB_DIST_DIR"] = str(tmp_path / "missing")
    try:
        response = client.get("/cards")
    finally:
        app.config["WEB_DIST_DIR"] = previous

    assert response.status_code == 503
    assert "make run" in response.get_data(as_text=True)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
