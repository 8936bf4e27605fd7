"""A real HTTP server on loopback speaking the OpenAI chat protocol with replies given in advance.

For what a healthy model server never does on cue (errors, stalls, broken streams)
and for replies a test needs exactly, such as a bare ``[1]``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = None  # JSON, or a list of SSE data payloads when ``stream``
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    delay: float = 0.0


class Scripted:
    """A real HTTP server on loopback that answers with the ``replies`` given, in order, and records the requests."""

    def __init__(self, replies: list[Reply]):
        self.replies = list(replies)
        # Header names in lower case: HTTP ignores their case, and the openai SDK sends them so.
        self.requests: list[tuple[dict[str, str], dict]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                headers = {name.lower(): value for name, value in self.headers.items()}
                script.requests.append((headers, json.loads(self.rfile.read(length))))
                reply = script.replies.pop(0)
                time.sleep(reply.delay)
                if reply.stream:
                    payload = "".join(f"data: {item if isinstance(item, str) else json.dumps(item)}\n\n" for item in reply.body)
                    data, kind = payload.encode(), "text/event-stream"
                elif isinstance(reply.body, str):
                    data, kind = reply.body.encode(), "text/plain"
                else:
                    data, kind = json.dumps(reply.body).encode(), "application/json"
                self.send_response(reply.status)
                for name, value in {"Content-Type": kind, "Content-Length": str(len(data)), **reply.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
