"""An ASGI server (uvicorn) on a free port against the test database, always stopped."""

import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import ROOT, child_env, free_port, started


@dataclass
class Server:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def _health(url: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/api/health/", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@contextmanager
def asgi_server(
    *, workers: int = 1, timeout: float = 60, ready_status: int = 200, **env: str
) -> Iterator[Server]:
    """uvicorn with `workers` processes serving config.asgi, ready when /api/health/
    answers `ready_status`; output goes to a file (a pipe nobody reads would fill up
    and stall the server)."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="evergreen-asgi-", suffix=".log")[1])
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",
        "--no-access-log",
    ]
    with log.open("w") as out, started(args, env=child_env(**env), stdout=out) as proc:
        server = Server(url=f"http://127.0.0.1:{port}", log=log)
        deadline = time.monotonic() + timeout
        while _health(server.url) != ready_status:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{server.output()}")
            time.sleep(0.1)
        yield server
    log.unlink(missing_ok=True)


__all__ = ["ROOT", "Server", "asgi_server"]
