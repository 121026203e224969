"""Issue 19, item 7 (figures): after a Redis restart the consumer-group lag gauge showed 486 for a
group with nothing pending and nothing left to read, so a lag alert fired falsely. Reproduced on
a private redis-server (AOF on): the AOF rewrite's RDB preamble keeps the group's entries-read,
and the reads replayed after it move the group on without counting."""

from __future__ import annotations

import time

from tests.reliability.servers import PrivateRedis
from worker.ops.metrics import RedisCollector
from worker.store.keys import Keys


def _gauge(collector: RedisCollector, name: str, **labels: str) -> float | None:
    for family in collector.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def _read_all(client, stream: str, group: str) -> int:
    n = 0
    while reply := client.xreadgroup(group, "c1", {stream: ">"}, count=100):
        for _, entries in reply:
            for entry_id, _ in entries:
                client.xack(stream, group, entry_id)
                n += 1
    return n


def test_the_lag_gauge_shows_no_false_lag_after_a_redis_restart(tmp_path):
    server = PrivateRedis(tmp_path)
    client = server.start()
    keys = Keys("lagtest")
    try:
        client.xgroup_create(keys.articles, "dashboards", id="0", mkstream=True)
        for i in range(20):
            client.xadd(keys.articles, {"data": str(i)})
        assert _read_all(client, keys.articles, "dashboards") == 20
        client.bgrewriteaof()  # as Redis does by itself once the AOF has grown (auto-aof-rewrite)
        while client.info("persistence")["aof_rewrite_in_progress"]:
            time.sleep(0.05)
        for i in range(486):
            client.xadd(keys.articles, {"data": str(i)})
        assert _read_all(client, keys.articles, "dashboards") == 486
        time.sleep(1.2)  # appendfsync everysec
        server.kill()
        client = server.start()
        group = client.xinfo_groups(keys.articles)[0]
        assert group["pending"] == 0 and group["lag"] == 486  # Redis's own figure is the false one
        collector = RedisCollector(client, keys)
        # on the old code: 486
        assert _gauge(collector, "storyline_consumer_group_lag", stream="articles", group="dashboards") == 0
        # a real lag is still shown: 3 new entries, at most as many as the stream holds
        for i in range(3):
            client.xadd(keys.articles, {"data": f"new-{i}"})
        lag = _gauge(collector, "storyline_consumer_group_lag", stream="articles", group="dashboards")
        assert lag is not None and 3 <= lag <= client.xlen(keys.articles)
        assert _read_all(client, keys.articles, "dashboards") == 3
        assert _gauge(collector, "storyline_consumer_group_lag", stream="articles", group="dashboards") == 0
    finally:
        server.kill()
