"""mlplab.cluster: the dashboard address is named only where its page answers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from mlplab.cluster import dashboard_address


class Page(BaseHTTPRequestHandler):
    """A web server with one page, /status, as a scheduler with a dashboard has."""

    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(200 if self.path == "/status" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class Client:
    """What dashboard_address reads of a distributed.Client."""

    def __init__(self, link: str, services: dict) -> None:
        self.dashboard_link, self.services = link, services

    def scheduler_info(self) -> dict:
        return {"services": self.services}


def test_the_dashboard_is_named_only_where_its_page_answers():
    server = HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        page = f"http://127.0.0.1:{port}/status"
        assert dashboard_address(Client(page, {"dashboard": port})) == page
        # a scheduler started with --no-dashboard lists the service but serves no page
        assert dashboard_address(Client(f"http://127.0.0.1:{port}/x", {"dashboard": port})) is None
        assert dashboard_address(Client(page, {})) is None
    finally:
        server.shutdown()
        server.server_close()
    # nothing listens there any more
    assert dashboard_address(Client(page, {"dashboard": port}), timeout=0.5) is None
    assert dashboard_address(Client("not an address", {"dashboard": 1})) is None
