"""The check's one EVALSHA, sent and read past redis-py's command path.

Kept apart from the index's layout and rule because it is the only code that leans on redis-py's
internals: ``Connection.send_packed_command``/``read_response`` (public but low-level) and the
connection's socket ``_sock`` (private, for the reply polling). pyproject.toml bounds redis-py and
hiredis to the major versions it was measured with, and every failure of this path (a connection
error, a flushed script, a redis-py whose connection has no ``_sock``) falls back to redis-py's
ordinary ``Script`` call, which reloads the script, reconnects and retries as the client is
configured: a newer redis-py can make the path slower, never wrong.

Why not ``script(...)``: redis-py's command path (pool checkout and release, encoding every
argument, the retry wrapper) costs 30-50 µs a call on this kind of machine, a fifth of a check;
here the arguments are packed by hiredis and each thread keeps a connection of its own (shared,
two threads would read each other's replies). Running the script a second time after a failure
is safe: an input that was inserted finds its own record and is "new" again.
"""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from typing import Any

import hiredis
import redis
from redis.commands.core import Script


class FastScript:
    """Runs one registered script with one key on per-thread connections of ``client``'s pool."""

    def __init__(self, client: redis.Redis, script: Script, key: str, spin_microseconds: int) -> None:
        self._client = client
        self._script = script
        self._head = (b"EVALSHA", script.sha, b"1", key.encode())
        self._spin_ns = spin_microseconds * 1000
        # one connection per thread (a threads pool shares the index) and per process, taken
        # from the client's pool and given back when this object is dropped (a process that
        # builds many indexes, such as bench/semeval.py, would otherwise exhaust the pool)
        self._local = threading.local()
        self._held: list[redis.Connection] = []
        self._finalizer = weakref.finalize(self, _give_back, client.connection_pool, self._held)

    def close(self) -> None:
        """Give the connections back now (dropping the object does the same, later)."""
        self._finalizer()
        self._local = threading.local()

    def __call__(self, args: tuple[bytes, ...]) -> Any:
        pid, conn = getattr(self._local, "conn", (0, None))
        if conn is None or pid != os.getpid():  # none yet in this thread, or the parent's
            conn = self._client.connection_pool.get_connection()
            self._held.append(conn)
            self._local.conn = (os.getpid(), conn)
        try:
            # hiredis packs for redis-py too; called directly it skips re-checking the arguments
            conn.send_packed_command([hiredis.pack_command((*self._head, *args))], check_health=False)
            if self._spin_ns:
                self._spin_until_readable(conn)
            return conn.read_response()
        except redis.exceptions.NoScriptError:
            pass
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()
        return self._script(keys=[self._head[3]], args=args)

    def connection(self) -> redis.Connection | None:
        """This thread's connection, if it has one (tests kill it)."""
        return getattr(self._local, "conn", (0, None))[1]

    def _spin_until_readable(self, conn: redis.Connection) -> None:
        """Poll the connection's socket without blocking, yielding the CPU between polls, until
        the reply is there or ``spin_microseconds`` have passed (then read_response blocks as
        usual).

        Why: on a virtual machine a thread that blocks lets its vCPU halt, and waking it is a
        trip through the hypervisor: a blocking round trip to a local Redis measured 73-91 µs
        here, polling 30-45 µs (``bench/dedup.py`` prints checks/s both ways). That is what
        the guest's halt-polling would do for every process (``cpuidle_haltpoll``, off on
        this machine: ``haltpoll.guest_halt_poll_ns=0``); the script's reply comes in
        well under the budget, so the CPU spent is bounded by it, and sched_yield lets any
        runnable process (Redis itself, on a small machine) go first. No redis-py call polls a
        socket without reading it, so this uses the connection's socket (``_sock``); without
        one (not connected, or another redis-py) it does not poll.
        """
        sock = getattr(conn, "_sock", None)
        fd = sock.fileno() if sock is not None else -1
        if fd < 0:  # not connected: read_response reports it
            return
        held = getattr(self._local, "poll", None)
        if held is None or held[0] != fd:  # first call, or the connection was made again
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            held = self._local.poll = (fd, poller)
        poller = held[1]
        end = time.perf_counter_ns() + self._spin_ns
        while not poller.poll(0) and time.perf_counter_ns() < end:
            os.sched_yield()


def _give_back(pool: redis.ConnectionPool, held: list[redis.Connection]) -> None:
    """Return a dropped caller's connections to the pool they came from."""
    for conn in held:
        pool.release(conn)
    held.clear()
