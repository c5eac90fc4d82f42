"""A scripted HTTP server on 127.0.0.1 for the crawler tests: each path answers with the
next step of its script (the last step repeats), and every request is logged with its
time, so tests can check retries, rate limits and what was fetched twice."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Step:
    """One answer: a status with a body, optionally late, cut short or with headers."""

    body: bytes = b""
    status: int = 200
    headers: dict | None = None
    delay: float = 0.0  # seconds before answering (past the client's timeout: a timeout)
    cut: bool = False  # declare the full length, send half, close: a dropped connection


def ok(body: bytes | str, content_type: str = "text/html") -> Step:
    return Step(body.encode() if isinstance(body, str) else body, headers={"Content-Type": content_type})


class FakeServer:
    """``routes[path]`` is a list of Steps; unknown paths get 404. For the REST API the
    query's ``method`` and ``user_id``/``url`` are part of the route key when given."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Step]] = {}
        self.log: list[tuple[float, str]] = []
        self.served: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                key = route_key(self.path)
                with server.lock:
                    server.log.append((time.monotonic(), key))
                    script = server.routes.get(key, [Step(b"not here", 404)])
                    step = script[min(server.served[key], len(script) - 1)]
                    server.served[key] += 1
                time.sleep(step.delay)
                try:
                    self.send_response(step.status)
                    for name, value in (step.headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(step.body)))
                    self.end_headers()
                    self.wfile.write(step.body[: len(step.body) // 2] if step.cut else step.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): fine
                if step.cut:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def requests_to(self, key: str) -> list[float]:
        return [t for t, k in self.log if k == key]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def route_key(path: str) -> str:
    """'/people/bob/' as is; '/rest/?method=m&user_id=u&...' -> '/rest/m/u'."""
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    if "method" not in query:
        return parts.path
    subject = (query.get("user_id") or query.get("url") or [""])[0]
    return f"{parts.path.rstrip('/')}/{query['method'][0]}/{subject}"
