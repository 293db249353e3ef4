"""/docs and /redoc work without internet: every script, stylesheet and icon they load comes from the app."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from helpers.serving import Live

# Swagger UI's page also names a URL inside its JavaScript (the spec's, relative); only the tags load assets.
ASSET_ATTRS = {("script", "src"), ("link", "href")}


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if (tag, k) in ASSET_ATTRS and v]


def assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize(
    ("page", "bundle"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_docs_pages_load_only_assets_the_app_serves(live: Live, page: str, bundle: str) -> None:
    answer = httpx.get(f"{live.url}{page}", timeout=5)
    assert answer.status_code == 200
    html = answer.text
    assert not re.search(r"https?://", html), f"{page} names an external URL"
    urls = assets(html)
    assert any(u.endswith(bundle) for u in urls), urls
    for url in urls:
        asset = httpx.get(f"{live.url}{url}", timeout=5)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, f"{url} is too small to be the asset"
    assert httpx.get(f"{live.url}/openapi.json", timeout=5).json()["info"]["title"]
