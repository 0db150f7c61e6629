"""mlplab.cluster: the dashboard address is named only where its page answers."""

from __future__ import annotations

import socket
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


def test_the_dashboard_is_named_only_where_its_page_answers(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # a proxy that is not there
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
    assert dashboard_address(Client("http://[::1", {"dashboard": 1})) is None  # not valid
    # a path that a notebook server proxies is named as it is
    assert dashboard_address(Client("/user/me/proxy/8787/status", {"dashboard": 1})) == (
        "/user/me/proxy/8787/status"
    )


def test_a_port_that_does_not_speak_http_is_no_dashboard():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"not http at all\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        link = f"http://127.0.0.1:{port}/status"
        assert dashboard_address(Client(link, {"dashboard": port}), timeout=5) is None
        thread.join(timeout=5)
