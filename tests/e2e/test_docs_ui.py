"""The docs UI works on a closed network: every asset `/docs` references comes from the service itself."""
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests


class References(HTMLParser):
    """Every URL the page would load: scripts, stylesheets, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_every_asset_of_the_docs_page_is_served_by_the_service_itself(services):
    for name, base in services.items():
        page = requests.get(base + "/docs", timeout=10)
        assert page.status_code == 200, name
        assert "cdn." not in page.text and "validator.swagger.io" not in page.text, name
        parser = References()
        parser.feed(page.text)
        assert len(parser.urls) >= 3, (name, parser.urls)
        for url in parser.urls + ["/openapi.json"]:
            absolute = urljoin(base + "/docs", url)
            assert urlsplit(absolute).hostname == "127.0.0.1", (name, url)
            asset = requests.get(absolute, timeout=10)
            assert asset.status_code == 200 and asset.content, (name, url)
        bundle = requests.get(urljoin(base + "/docs", next(u for u in parser.urls if "bundle" in u)), timeout=10)
        assert bundle.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
        assert "isOAS31" in bundle.text, "this Swagger UI cannot render the OpenAPI 3.1 documents we serve"
        assert requests.get(base + "/openapi.json", timeout=10).json()["openapi"].startswith("3.1")
