"""The one token lock: SET NX with a random token and an expiry to take it, a compare-and-delete
script to release it, so a holder whose lock expired (and was taken by another worker) never
deletes the new holder's lock. A GET followed by a DEL would have that race between the two.

redis-py's ``Lock`` does the same, but it blocks and sleeps by itself and hides the token; the
stages need a non-blocking try (a feed being polled elsewhere is simply skipped) and, for the
thread state, a try that shares a pipeline round trip with reads (threads/state.py), so the
script lives here for both.
"""

from __future__ import annotations

import uuid
from importlib import resources

import redis

#: the release script (also used by threads/state.py through its own copy until it adopts this one)
RELEASE_SCRIPT = resources.files("worker.store").joinpath("lua/release_lock.lua").read_text()


class TokenLock:
    """A lock on ``key`` held for at most ``seconds``; ``acquire`` never waits."""

    def __init__(self, client: redis.Redis, key: str, seconds: float) -> None:
        self.client = client
        self.key = key
        self.ms = max(1, int(seconds * 1000))
        self.token = uuid.uuid4().hex

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; whether we got it."""
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ms))

    def release(self) -> bool:
        """Free the lock if we still hold it (one atomic script); whether we did."""
        return bool(self.client.eval(RELEASE_SCRIPT, 1, self.key, self.token))
