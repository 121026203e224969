"""Hostile HTTP servers on 127.0.0.1 for the reliability tests: raw sockets, because a
well-behaved server library cannot trickle a status line one byte at a time or lie about its
Content-Length. Each serves in a daemon thread, and every connection stops after ``lifetime`` s."""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from worker.ops.embedded import redis_server_binary


@contextmanager
def raw_server(response: bytes, *, pace: float = 0.0, head: int | None = None, lifetime: float = 30.0,
               hits: list[float] | None = None, step: int = 1) -> Iterator[str]:
    """Answers every request with ``response``. With ``pace`` > 0 the bytes from ``head`` on
    (all of them when ``head`` is None) go out ``step`` at a time, ``pace`` seconds apart; the
    connection closes after the last byte, or when the client hangs up. Each connection appends
    its time to ``hits`` (when given). Yields the base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        until = time.monotonic() + lifetime
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)
                start = 0 if head is None else head
                if not pace:
                    conn.sendall(response)
                    return
                conn.sendall(response[:start])
                for i in range(start, len(response), step):
                    if stop.is_set() or time.monotonic() > until:
                        return
                    conn.sendall(response[i:i + step])
                    time.sleep(pace)
            except OSError:
                return  # the client hung up: what a deadline does

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if hits is not None:
                hits.append(time.monotonic())
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def page(body: bytes, *extra: str, content_type: str = "text/html; charset=utf-8") -> bytes:
    """An HTTP/1.1 200 response with ``body``; ``extra`` header lines replace the Content-Length."""
    headers = list(extra) or [f"Content-Length: {len(body)}"]
    return ("HTTP/1.1 200 OK\r\n" + f"Content-Type: {content_type}\r\n" + "".join(h + "\r\n" for h in headers)
            + "Connection: close\r\n\r\n").encode() + body


def restartable_port() -> int:
    """A free 127.0.0.1 port for a server the test stops and starts again on the same port.

    Below the kernel's ephemeral range: while the server is down, clients retrying their
    connection to an ephemeral-range port can be handed that very port as their own local end
    (TCP self-connect), and then the restarted server cannot bind it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class PrivateRedis:
    """A redis-server of this test's own (the shared one is never restarted), AOF on."""

    def __init__(self, data_dir: Path) -> None:
        self.port, self.dir, self.proc = restartable_port(), data_dir, None

    def start(self) -> redis.Redis:
        self.proc = subprocess.Popen([redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.dir), "--appendonly", "yes", "--save", ""],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
