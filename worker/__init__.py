"""Storyline: a stream-processing ingest worker for news.

The package is laid out by pipeline stage: sources -> extract -> dedup -> threads -> publish,
chained by ``pipeline`` and run by the Celery ``runtime``; ``cli`` is the command line, ``ops``
the operations edges (metrics, logs, embedded Redis, dead letters), ``store`` the Redis edge, and
``model``, ``errors``, ``settings`` and ``words`` what every layer shares. Imports point down that
list only (import-linter contracts in pyproject.toml).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
