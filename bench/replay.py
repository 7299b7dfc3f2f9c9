"""An upstream that costs the bench's machine almost nothing: the sandbox behind a replaying
front.

The sandbox emulator is a Flask app: each answer costs it 1.1-1.9 ms of CPU and, under load,
a few ms of queueing in its one process, on the same two cores the connector runs on. A real
upstream runs elsewhere. This front asks the sandbox once for each distinct request (method,
path, query, body and key headers), keeps the answer if it is a success, and from then on
answers the same request with the same bytes after the configured latency, on one asyncio
thread. The bench's measures repeat requests whose answers do not change (idle polls, one
video looked up again and again), so what the connector receives is what the sandbox
answers, byte for byte.

``POST /_sandbox/latency`` sets the front's own delay (one for every endpoint: the bench sets
them all alike); the sandbox itself answers at once. Every other ``/_sandbox/`` request is
passed through, never kept. ``GET /_replay/stats`` counts the answers passed and replayed.

Run: ``python bench/replay.py <port> <sandbox url>``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx

# Request headers that can change an answer; the rest (Host, User-Agent, ...) cannot.
_KEYED_HEADERS = (b"authorization", b"x-api-key", b"x-provider", b"content-type")
# Response headers the front re-sends; it writes Content-Length and keep-alive itself.
_KEPT_HEADERS = frozenset({"content-type", "retry-after"})

Answer = tuple[int, str, list[tuple[str, str]], bytes]


class Replay:
    def __init__(self, sandbox: str) -> None:
        self.sandbox = httpx.AsyncClient(base_url=sandbox, timeout=30)
        self.kept: dict[bytes, Answer] = {}
        self.delay = 0.0
        self.passed = 0  # requests the sandbox answered
        self.replayed = 0

    async def answer(
        self, method: str, target: str, headers: dict[bytes, bytes], body: bytes
    ) -> Answer:
        if target.startswith("/_sandbox/latency") and method == "POST":
            self.delay = max(0.0, float(json.loads(body)["seconds"]))
            return 200, "OK", [("content-type", "application/json")], b"{}"
        if target == "/_replay/stats":
            counts = {"passed": self.passed, "replayed": self.replayed}
            return 200, "OK", [("content-type", "application/json")], json.dumps(counts).encode()
        if target.startswith("/_sandbox/"):
            return await self._pass(method, target, headers, body)
        key = b"\0".join(
            [method.encode(), target.encode(), *(headers.get(h, b"") for h in _KEYED_HEADERS)]
        )
        key += b"\0" + body
        if self.delay:
            await asyncio.sleep(self.delay)
        kept = self.kept.get(key)
        if kept is None:
            kept = await self._pass(method, target, headers, body)
            if 200 <= kept[0] < 300:
                self.kept[key] = kept
        else:
            self.replayed += 1
        return kept

    async def _pass(
        self, method: str, target: str, headers: dict[bytes, bytes], body: bytes
    ) -> Answer:
        self.passed += 1
        sent = {k.decode(): v.decode() for k, v in headers.items() if k in _KEYED_HEADERS}
        response = await self.sandbox.request(method, target, headers=sent, content=body)
        kept = [(k, v) for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS]
        return response.status_code, response.reason_phrase, kept, response.content

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *fields = head[:-4].split(b"\r\n")
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                for field in fields:
                    name, _, value = field.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                status, reason, kept, content = await self.answer(method, target, headers, body)
                out = [f"HTTP/1.1 {status} {reason}"]
                out += [f"{k}: {v}" for k, v in kept]
                out.append(f"content-length: {len(content)}")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + content)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(port: int, sandbox: str) -> None:
    replay = Replay(sandbox)
    server = await asyncio.start_server(replay.serve, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
