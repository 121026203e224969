"""Many plain commands in one round trip, packed by hiredis.

redis-py's pipeline costs ~6 µs of client CPU a command (queueing, argument encoding, the
response callbacks); the thread stage sends up to a few hundred document-frequency HINCRBY a
round trip, where that was ~1 ms a long article (180 HINCRBY: 1.18 ms through a pipeline,
0.08 ms to pack with hiredis). Here hiredis packs the whole round trip in C and the raw replies
are read in order. Only for commands whose raw reply is what the caller wants (integers, bulk
strings, arrays of them: GET, HMGET, HINCRBY, INCRBY, ZREMRANGEBYRANK, ...), with no response
callback to apply. It uses redis-py's connection API (``send_packed_command``, ``read_response``)
and the client's own retry policy, as its pipelines do; pyproject.toml bounds redis-py and
hiredis to the versions measured (see worker/dedup/fastpath.py for the same choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
import redis

Command = Sequence[str | bytes | int | float]


def execute_packed(client: redis.Redis, commands: Sequence[Command]) -> list[Any]:
    """The replies of ``commands``, sent in one round trip; a ``redis.ResponseError`` when any
    of them is an error reply (after reading every reply, so the connection stays usable)."""
    if not commands:
        return []
    # (hiredis's stub types the argument as a 1-tuple; it takes any number of arguments)
    packed = b"".join([hiredis.pack_command(tuple(c)) for c in commands])  # type: ignore[arg-type]
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        def run() -> list[Any]:
            conn.send_packed_command([packed], check_health=False)
            replies = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:  # an error reply: the next replies still follow
                    replies.append(exc)
            return replies

        retry = client.get_retry()  # None for a client made without a retry policy
        replies: list[Any] = retry.call_with_retry(run, lambda _error: conn.disconnect()) if retry else run()
    except BaseException:
        conn.disconnect()  # replies may be left unread: this connection is not reused as it is
        raise
    finally:
        pool.release(conn)
    for reply in replies:
        if isinstance(reply, redis.ResponseError):
            raise reply
    return replies
