"""Storyline: a stream-processing ingest worker for news.

The package is laid out by pipeline stage: sources -> extract -> dedup -> threads -> publish,
chained by ``pipeline`` and run by Celery ``tasks``; ``store`` holds the Redis edge.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
