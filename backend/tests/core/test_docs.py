"""`/docs` works without the internet: Swagger UI comes from our own origin (issue 9, §5)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_docs_and_every_asset_it_references_load_from_our_origin(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(references) >= 3  # the stylesheet and two scripts
    for ref in references:
        url = urljoin("http://localhost/docs", ref)
        assert urlparse(url).netloc == "localhost", ref  # no CDN, no other host
        asset = client.get(urlparse(url).path)
        assert asset.status_code == 200, ref
        assert len(asset.get_data()) > 1000, ref
    spec_url = re.search(r'url: "([^"]+)"', html).group(1)
    assert client.get(spec_url).status_code == 200


def test_the_docs_csp_names_no_other_host(client):
    csp = client.get("/docs").headers["Content-Security-Policy"]
    assert "http" not in csp and "cdn" not in csp
    assert "script-src 'self'" in csp


def test_unknown_assets_are_404_in_the_envelope(client):
    response = client.get("/docs/assets/../../app/config.py")
    assert response.status_code == 404
    assert client.get("/docs/assets/nothing.js").json["error"]["code"] == "not_found"
