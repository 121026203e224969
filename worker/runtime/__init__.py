"""The Celery runtime: the app (built by ``create_app``, never at import), the tasks, the retry
policy, message encoding, the per-process setup (signals), the feed schedule, and the
supervision of worker processes and replays. It imports the pipeline and the stages; nothing
below it imports it."""
