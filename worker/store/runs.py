"""The outcomes of a run (a replay, a submit, a feed poll with a run id): one hash per run, kept
for the CLI to count and for ``replay`` to find the inputs that have none yet."""

from __future__ import annotations

import redis

from worker.store.keys import Keys

def record_outcome(client: redis.Redis | redis.client.Pipeline, keys: Keys, run_id: str, member: str,
                   outcome_json: str, ttl_seconds: int) -> None:
    """Record ``member``'s outcome in the run, once (a redelivery keeps the first), the run kept
    ``ttl_seconds`` (Settings.run_ttl_seconds); on a pipeline, the commands are only queued."""
    client.hsetnx(keys.run(run_id), member, outcome_json)
    client.expire(keys.run(run_id), ttl_seconds)
