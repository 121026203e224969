"""worker/store/packed.py against a real Redis: replies in order, error replies, and a
connection that stays usable after one."""

import pytest
import redis

from worker.store.client import connect
from worker.store.packed import execute_packed


def test_replies_come_back_in_the_order_of_the_commands(client, prefix):
    k = f"{prefix}:h"
    replies = execute_packed(client, [("HINCRBY", k, "a", 2), ("HINCRBY", k, "ü", 1), ("HINCRBY", k, "a", 3),
                                      ("GET", f"{prefix}:missing"), ("HMGET", k, "a", "ü", "zz"), ("INCRBY", f"{prefix}:n", 7)])
    assert replies == [2, 1, 5, None, [b"5", b"1", None], 7]
    assert execute_packed(client, []) == []


def test_an_error_reply_raises_after_every_command_ran_and_the_pool_still_works(client, prefix):
    k = f"{prefix}:s"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        execute_packed(client, [("SET", k, "1"), ("HGET", k, "f"), ("INCRBY", f"{prefix}:after", 1)])
    assert client.get(f"{prefix}:after") == b"1", "the commands after the error reply ran"
    # every reply was read: the next round trip on the pool's connections gets its own replies
    for _ in range(3):
        assert execute_packed(client, [("GET", k), ("INCRBY", f"{prefix}:after", 1)])[0] == b"1"
    assert client.get(f"{prefix}:after") == b"4"


def test_the_service_client_and_its_retry_policy_are_used(redis_url, prefix):
    service = connect(redis_url)
    assert service.get_retry() is not None
    assert execute_packed(service, [("INCRBY", f"{prefix}:c", 1), ("GET", f"{prefix}:c")]) == [1, b"1"]
