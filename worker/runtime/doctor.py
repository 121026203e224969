"""``storyline doctor``'s checks beyond the Redis server's own (worker/store/doctor.py): workers
answering, the dedup index's scheme, state a past release left, the queue and the output streams."""

from __future__ import annotations

import redis

from worker.dedup.index import DedupIndex
from worker.errors import IncompatibleIndex
from worker.runtime.processes import workers_alive
from worker.settings import Settings
from worker.store.doctor import Finding, inspect
from worker.store.keys import Keys


def run_checks(client: redis.Redis, settings: Settings) -> list[Finding]:
    """Every finding about this Redis and prefix, in the order ``doctor`` prints them."""
    findings = inspect(client)
    keys = Keys(settings.prefix)
    alive = workers_alive(settings)
    findings.append(Finding("ok" if alive else "warn", "workers",
                            "workers answer on this prefix" if alive else "no worker answers: start one with `storyline worker`"))
    try:
        DedupIndex(client, keys, settings.dedup).ensure_scheme()
        findings.append(Finding("ok", "dedup index", "written with this release's MinHash scheme and layout (or not yet written)"))
    except IncompatibleIndex as exc:
        # every input would be dead-lettered as incompatible_index: say so before that happens
        findings.append(Finding("error", "dedup index", str(exc)))
    if client.exists(keys.legacy_df):
        # releases before 26 counted document frequencies in a hash that grew without bound;
        # nothing reads it now, and on a Redis run with noeviction its memory is owed elsewhere
        size = client.memory_usage(keys.legacy_df, samples=5) or 0
        findings.append(Finding("warn", "thread counts", (
            f"{keys.legacy_df}, the document-frequency hash of a release before 26, is left ({client.hlen(keys.legacy_df)} "
            f"features, ~{size / 2**20:.0f} MiB) and no release reads it: `redis-cli UNLINK {keys.legacy_df}`")))
    queued = client.llen(keys.broker_queue)
    findings.append(Finding("ok", "queue", f"{queued} task(s) waiting in {keys.queue}"))
    for stream in keys.output_streams:
        findings.append(Finding("ok", "stream", f"{stream}: {client.xlen(stream) if client.exists(stream) else 0} entries"))
    return findings
