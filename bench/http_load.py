"""A light HTTP/1.1 load generator: asyncio, keep-alive, one connection per client.

requests in threads spends about a millisecond of client CPU per call, which on a 2-core
machine is taken from the server being measured; this spends a tenth of that.

Two shapes of load:
  closed loop  - each client sends its next request as soon as the answer arrives (throughput);
  paced        - each client waits an exponential think time between requests (latency at a
                 realistic offered load).
"""
import asyncio
import json
import random
import time
from urllib.parse import urlsplit


class Connection:
    def __init__(self, base):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.reader = self.writer = None

    async def request(self, method, path, headers=None, body=None):
        """(status, parsed JSON or raw bytes); reconnects once if the server closed the socket."""
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(payload)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(raw)
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise

    async def _response(self):
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        if headers.get("content-type", "").startswith("application/json"):
            return status, json.loads(body or b"null")
        return status, body

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _run(base, clients, seconds, make_call, think_seconds):
    latencies, errors = [], {}
    deadline = time.monotonic() + seconds

    async def client(index):
        connection = Connection(base)
        count = 0
        try:
            while time.monotonic() < deadline:
                if think_seconds:
                    await asyncio.sleep(random.expovariate(1 / think_seconds))
                method, path, headers, body, expect = make_call(index, count)
                count += 1
                started = time.perf_counter()
                try:
                    status, answer = await connection.request(method, path, headers, body)
                except Exception as failure:  # a refused connection counts, the load goes on
                    errors[type(failure).__name__] = errors.get(type(failure).__name__, 0) + 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if status not in expect:
                    key = f"{status}: {str(answer)[:120]}"
                    errors[key] = errors.get(key, 0) + 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(index) for index in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies), "req_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99), "errors": errors,
    }


def run(base, clients, seconds, make_call, think_seconds=0.0):
    """Drive ``clients`` concurrent clients for ``seconds``; ``make_call(client, n)`` returns
    ``(method, path, headers, body, expected_statuses)`` for a client's n-th request."""
    return asyncio.run(_run(base, clients, seconds, make_call, think_seconds))
