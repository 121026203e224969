"""Thread stage: every article joins a story (one event, days) and a thread (an ongoing story, weeks)."""
