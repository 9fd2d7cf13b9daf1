"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that verifies each delivery with
the very snippet docs/webhooks.md shows (extracted from the document and run as is)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"
_SNIPPET = re.compile(
    r"<!-- webhook-receiver:start -->\s*```python\n(.*?)```\s*<!-- webhook-receiver:end -->",
    re.DOTALL,
)


def doc_snippet() -> dict[str, Any]:
    """A fresh namespace holding what the doc's Python block defines (verify, receive …)."""
    match = _SNIPPET.search(DOC.read_text())
    assert match, "docs/webhooks.md lost its receiver snippet"
    namespace: dict[str, Any] = {"__name__": "webhook_receiver_snippet"}
    exec(compile(match.group(1), str(DOC), "exec"), namespace)
    return namespace


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def signatures(self) -> list[str]:
        header = self.headers.get("Flowlet-Signature", "")
        return [p.split("=", 1)[1] for p in header.split(",") if p.startswith("v1=")]


@dataclass
class Receiver:
    """`answers` are the statuses to give, in order (then 200); `stall` blocks the request
    that finds it set until `release` is set."""

    secret: str = ""
    answers: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)  # event ids, once each (deduped)
    stall: threading.Event | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.snippet = doc_snippet()
        self.snippet["process"] = lambda event: self.processed.append(event["id"])

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = self.answers.pop(0) if self.answers else None
            if status is None:
                # The doc's receiver: verify the signature, dedupe by the event id.
                status = self.snippet["receive"](
                    self.secret, body, headers.get("Flowlet-Signature", "")
                )
            self.deliveries.append(Delivery(path, headers, body, status))
        if self.stall is not None and self.stall.is_set():
            # Handled, but the answer is late: the sender times out or dies waiting.
            self.stall.clear()
            self.reached.set()
            self.release.wait(60)
        return status

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def events_of(self, status: int | None = None) -> list[str]:
        return [d.event["id"] for d in self.deliveries if status is None or d.status == status]
