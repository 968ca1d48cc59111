"""A real webhook receiver on loopback for the tests: it verifies every delivery's
rtk-signature with the public key the server publishes (using `cryptography`, as
docs/webhooks.md shows a receiver doing), records it, and answers what the test scripts."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@dataclass(frozen=True)
class Delivery:
    at: float
    uuid: str
    webhook_id: str
    body: dict[str, Any]
    verified: bool
    answered: int

    @property
    def event(self) -> str:
        return str(self.body["event"])


class Receiver:
    def __init__(self, public_pem: str) -> None:
        key = serialization.load_pem_public_key(public_pem.encode())
        assert isinstance(key, rsa.RSAPublicKey)
        self.key = key
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        # (event body) -> status to answer; the default accepts.
        self.answer: Callable[[dict[str, Any], str], int] = lambda body, uuid: 200
        self.url = ""

    def verify(self, raw: bytes, header: str) -> bool:
        try:
            self.key.verify(base64.b64decode(header), raw, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def accepted(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if 200 <= d.answered < 300]

    def wait_for(self, done: Callable[[list[Delivery]], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if done(list(self.deliveries)):
                    return
            time.sleep(0.1)
        with self.lock:
            seen = [(d.event, d.answered) for d in self.deliveries]
        raise AssertionError(f"deliveries did not arrive in {timeout} s; got {seen}")


@contextmanager
def receiving(public_pem: str, port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(public_pem)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            body = json.loads(raw)
            uuid = self.headers.get("rtk-uuid", "")
            status = receiver.answer(body, uuid)
            with receiver.lock:
                receiver.deliveries.append(Delivery(
                    time.monotonic(), uuid, self.headers.get("rtk-webhook-id", ""), body,
                    receiver.verify(raw, self.headers.get("rtk-signature", "")), status,
                ))  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
