"""The one token lock (worker/store/locks.py), against the real Redis."""

from __future__ import annotations

import time

from worker.store.locks import TokenLock


def test_a_lock_is_held_by_one_taker_at_a_time(client, prefix):
    first, second = TokenLock(client, f"{prefix}:lock", 30), TokenLock(client, f"{prefix}:lock", 30)
    assert first.acquire()
    assert not second.acquire()
    assert first.release()
    assert second.acquire()


def test_a_holder_whose_lock_expired_does_not_release_the_next_holders(client, prefix):
    key = f"{prefix}:lock"
    stale = TokenLock(client, key, 0.05)
    assert stale.acquire()
    deadline = time.monotonic() + 5
    while client.exists(key) and time.monotonic() < deadline:  # wait for the expiry, not a fixed time
        time.sleep(0.01)
    fresh = TokenLock(client, key, 30)
    assert fresh.acquire()
    assert not stale.release(), "the stale holder must not delete a lock it no longer holds"
    assert client.get(key) == fresh.token.encode()
