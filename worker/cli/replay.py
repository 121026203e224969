"""``storyline replay``: parse, then delegate to worker.runtime.replay."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, console, redis_for, settings_from


def replay(
    paths: list[Path] = typer.Argument(..., help="Files and folders (.txt, .html, .htm) to feed through the workers."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    workers: int = typer.Option(-1, "--workers", help="Worker processes to start here: -1 = auto (start one unless workers already serve this Redis and prefix), 0 = none."),
    concurrency: int = typer.Option(os.cpu_count() or 1, "--concurrency", "-c", help="Processes of a started worker."),
    timeout: float = typer.Option(0, "--timeout", help="Give up after this many seconds without progress (0: never)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Replay files through the workers into the streams, wait for every input, print a summary."""
    from worker.runtime.replay import Replay  # deferred: keeps `storyline --help` fast
    from worker.runtime.replay import summarise
    from worker.sources.files import expand_paths
    try:
        files = expand_paths(paths)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/] no such file or folder: {exc}")
        raise typer.Exit(2) from exc
    if not files:
        console.print("[red]error:[/] no .txt, .html or .htm files under the given paths")
        raise typer.Exit(2)
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, embedded), \
            Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=console, disable=as_json) as bar:
        task = bar.add_task("replay", total=len(files))
        run = Replay(settings, client_for(settings), progress=lambda done, _total: bar.update(task, completed=done),
                     warn=console.print)
        # the workers started here write to a log file, not between the progress bar and the table
        run.log_file = Path(tempfile.gettempdir()) / f"storyline-replay-{run.run_id}.log"
        outcomes = run.run(files, workers=workers, concurrency=concurrency, timeout=timeout, embedded=embedded)
    if run.log_file.exists():
        console.print(f"[dim]worker log: {run.log_file}[/]")
    summary = summarise(outcomes)
    if as_json:
        print(json.dumps(summary))
    else:
        table = Table(title=f"replay of {len(files)} input(s)")
        for col in ("articles", "duplicates", "threads", "dead letters"):
            table.add_column(col, justify="right")
        table.add_row(*(str(summary[k]) for k in ("articles", "duplicates", "threads", "dead_letters")))
        Console().print(table)
    if summary["inputs"] < len(files):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(replay)
