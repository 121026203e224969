"""The feed polling schedule, kept in Redis by celery-redbeat: one entry per feed, named
``feed:<feed_id>``. Any number of ``storyline beat`` processes may run; redbeat's lock lets one
of them send the polls, and another takes over when it dies."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from celery.schedules import schedule
from redbeat import RedBeatSchedulerEntry
from redbeat.schedulers import ensure_conf, get_redis

from worker.runtime.messages import POLL_TASK
from worker.sources.feeds import FeedRegistry, FeedState
from worker.store.keys import Keys


def entry_name(feed_id: str) -> str:
    return f"feed:{feed_id}"


def schedule_feed(app: Celery, keys: Keys, feed: FeedState) -> RedBeatSchedulerEntry:
    """Create or replace the feed's beat entry (every ``feed.every_seconds``)."""
    entry = RedBeatSchedulerEntry(
        name=entry_name(feed.feed_id), task=POLL_TASK, schedule=schedule(timedelta(seconds=feed.every_seconds)),
        args=[feed.feed_id], options={"queue": keys.queue}, app=app,
    )
    entry.save()
    return entry


def unschedule_feed(app: Celery, feed_id: str) -> bool:
    ensure_conf(app)
    try:
        entry = RedBeatSchedulerEntry.from_key(RedBeatSchedulerEntry.generate_key(app, entry_name(feed_id)), app=app)
    except KeyError:
        return False
    entry.delete()
    return True


def scheduled_feed_ids(app: Celery) -> set[str]:
    """Feeds with an entry in the Redis schedule."""
    ensure_conf(app)
    prefix = app.redbeat_conf.key_prefix
    members = get_redis(app).zrange(app.redbeat_conf.schedule_key, 0, -1)
    names = [m.decode() if isinstance(m, bytes) else m for m in members]
    return {n[len(prefix) + len("feed:"):] for n in names if n.startswith(prefix + "feed:")}


def subscribe(app: Celery, registry: FeedRegistry, url: str, every_seconds: int, *, poll_now: bool) -> FeedState:
    """Subscribe to a feed (or change its interval), put it on the beat schedule, and send a
    first poll when ``poll_now``. Raises BadFeed for a URL that cannot be a feed. A feed an
    operator paused stays paused (off the schedule, no poll): adding it again, by hand or from an
    OPML import, changes its interval, not that; `feeds resume` does."""
    feed = registry.add(url, every_seconds)
    if feed.paused:
        return feed
    schedule_feed(app, registry.keys, feed)
    if poll_now:
        app.send_task(POLL_TASK, args=[feed.feed_id], queue=registry.keys.queue)
    return feed


def unsubscribe(app: Celery, registry: FeedRegistry, url_or_id: str) -> FeedState | None:
    """Drop a feed's schedule entry and its state; the feed it was, or None if there is none."""
    feed = registry.find(url_or_id)
    if feed is None:
        return None
    unschedule_feed(app, feed.feed_id)
    registry.remove(feed.feed_id)
    return feed
