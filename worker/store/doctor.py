"""Checks of the connected Redis: the server settings Storyline's guarantees depend on.

``assess`` is pure (it reads INFO/CONFIG values handed to it); ``inspect`` fetches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warn | error
    check: str
    detail: str


def assess(info: dict[str, Any], config: dict[str, str]) -> list[Finding]:
    out: list[Finding] = []
    version = str(info.get("redis_version", "0"))
    parts = [int(p) if p.isdigit() else 0 for p in (version.split(".") + ["0", "0"])[:2]]
    new_enough = tuple(parts) >= (6, 2)  # XAUTOCLAIM (reclaiming a dead consumer's requests) came in 6.2
    out.append(Finding("ok" if new_enough else "error", "version",
                       f"Redis {version}" + ("" if new_enough else ": Storyline needs Redis 6.2 or newer (streams, XAUTOCLAIM)")))
    policy = config.get("maxmemory-policy", "")
    if policy == "noeviction":
        out.append(Finding("ok", "maxmemory-policy", policy))
    elif policy.startswith(("allkeys-", "volatile-")):
        # an error, not a warning: eviction drops dedup entries (copies then pass as new
        # articles), thread centroids (stories split) or queued tasks, and says nothing
        out.append(Finding("error", "maxmemory-policy",
                           f"{policy}: under memory pressure Redis silently evicts dedup, thread or queue keys "
                           "(duplicates published again, threads split, tasks lost). Fix: CONFIG SET "
                           "maxmemory-policy noeviction, and `maxmemory-policy noeviction` in redis.conf "
                           "(or your provider's parameter group)"))
    else:
        out.append(Finding("warn", "maxmemory-policy",
                           f"{policy or 'unknown'}: not noeviction; Storyline needs Redis to refuse writes when "
                           "full, never to evict. Fix: CONFIG SET maxmemory-policy noeviction"))
    aof = config.get("appendonly", "no")
    out.append(Finding(
        "ok" if aof == "yes" else "warn", "appendonly",
        "AOF on" if aof == "yes" else
        "AOF off: a Redis restart loses queued tasks, dedup state and threads. Fix: CONFIG SET appendonly yes",
    ))
    fsync = config.get("appendfsync", "")
    if aof == "yes":
        out.append(Finding("ok" if fsync in ("everysec", "always") else "warn", "appendfsync",
                           fsync + ("" if fsync in ("everysec", "always") else ": up to the OS's flush interval of writes can be lost; use everysec")))
    maxmem = int(config.get("maxmemory", "0") or 0) if "maxmemory" in config else None
    used = int(info.get("used_memory", 0))
    if maxmem:
        share = used / maxmem
        out.append(Finding("ok" if share < 0.8 else "warn", "memory",
                           f"{used / 2**20:.0f} MiB of {maxmem / 2**20:.0f} MiB used ({share:.0%})"
                           + ("" if share < 0.8 else ": writes will fail at the limit with noeviction; add memory or shorten windows")))
    elif maxmem == 0:
        # noeviction only acts at the limit: without one Redis grows until the kernel's OOM
        # killer ends it, losing everything written since the last fsync
        out.append(Finding("error", "memory",
                           f"{used / 2**20:.0f} MiB used, no maxmemory limit: noeviction never applies and the "
                           "kernel's OOM killer decides instead. Fix: CONFIG SET maxmemory <bytes> (about 3/4 of "
                           "the memory Redis may use, leaving room for AOF rewrites), and `maxmemory` in redis.conf"))
    else:
        out.append(Finding("warn", "memory", f"{used / 2**20:.0f} MiB used; maxmemory unknown (CONFIG GET not allowed)"))
    return out


def inspect(client: redis.Redis) -> list[Finding]:
    info = client.info()
    try:
        config = {k: str(v) for k, v in client.config_get("*").items()}
    except redis.ResponseError:  # CONFIG is disabled on some managed services
        config = {}
        return assess(info, config) + [Finding("warn", "config", "CONFIG GET is not allowed here; check maxmemory-policy and appendonly with your provider")]
    return assess(info, config)
