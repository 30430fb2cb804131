"""A local HTTP server that plays recorded answers, for the outside services behind plugins
(feeds, social networks): each path has a queue of answers, served in order (the last one
again when the queue runs out), and every request is kept with its headers so a test can
check what the plugin sent (validators, user agent)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDED = Path(__file__).parent / "recorded"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @classmethod
    def file(cls, name: str, *, status: int = 200, content_type: str = "", **headers) -> Answer:
        body = (RECORDED / name).read_bytes()
        if content_type:
            headers["Content-Type"] = content_type
        return cls(status=status, body=body, headers=headers)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes


class RecordedServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Answer]] = {}
        self.requests: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append(Seen(self.command, self.path, headers, body))
                queue = outer.routes.get(self.path.split("?")[0])
                if not queue:
                    answer = Answer(status=404, body=b"not recorded")
                else:
                    answer = queue.pop(0) if len(queue) > 1 else queue[0]
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def route(self, path: str, *answers: Answer) -> str:
        self.routes[path] = list(answers)
        return self.url + path

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def __enter__(self) -> RecordedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
