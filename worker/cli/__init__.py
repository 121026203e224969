"""The ``storyline`` command line. Each module of this package is one command group that parses
its options and delegates (to worker.runtime, worker.ops, or a stage); nothing here does the
work itself, and nothing below imports this package."""

from __future__ import annotations

import typer

from worker.cli import dead_letters, doctor, replay, runs, sources, streams
from worker.cli import worker as worker_command

app = typer.Typer(
    help="Storyline: news in (feeds, URLs, HTML, text scrapes), clean, deduplicated, threaded events out on Redis Streams.",
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell (typer's own)
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        from worker import __version__

        print(f"storyline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Storyline: news in (feeds, URLs, HTML, text scrapes), clean, deduplicated, threaded events out on Redis Streams."""

# the order of `storyline --help`: the two README commands first
for _group in (replay, worker_command, streams, doctor, dead_letters, sources, runs):
    _group.register(app)

__all__ = ["app", "main"]


def main() -> None:
    # STORYLINE_JSON_LOGS=true: this process's own lines are JSON too (worker/ops/logs.py)
    from worker.ops.logs import configure_logging
    from worker.settings import Settings

    from pydantic import ValidationError

    try:
        base = Settings()
    except ValidationError as exc:  # a wrong STORYLINE_* variable: say which, no traceback
        import sys

        print("error: the settings are not valid (environment variables STORYLINE_*, REDIS_URL):", file=sys.stderr)
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            print(f"  {where}: {err['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        raise SystemExit(2) from None
    if base.json_logs:
        configure_logging(base.log_level, json_logs=True)
    app(prog_name="storyline")
