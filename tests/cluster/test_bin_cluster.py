"""bin/cluster as a whole: it serves through nginx and PgBouncer, and one SIGTERM stops
every process it started."""

import contextlib
import re
from pathlib import Path

import httpx
import pytest

from tests.processes import ROOT, child_env, descendants, running, started, stop, wait_until
from tests.processes import test_database_url as database_url

pytestmark = [pytest.mark.slow]


def test_bin_cluster_serves_through_the_balancer_and_sigterm_leaves_nothing_behind(db, tmp_path):
    url = database_url()
    if not url.startswith("postgres"):
        pytest.skip("bin/cluster needs PostgreSQL")
    env = child_env(
        DATABASE_URL=url,
        LOAD_DEMO="0",
        EVERGREEN_PROVIDER="offline",
        # The smallest topology: what is checked is the wiring and the stop.
        CLUSTER_HOSTS="1",
        WEB_WORKERS="1",
        Q_WORKERS="1",
        BOUNCER_POOL_SIZE="2",
        DB_POOL_MAX_SIZE="2",
    )
    log = tmp_path / "bin-cluster.log"

    def output() -> str:
        return log.read_text(errors="replace")

    command = [str(ROOT / "bin" / "cluster")]
    with log.open("w") as out, started(command, env=env, stdout=out) as proc:
        wait_until(
            lambda: proc.poll() is not None or "Ctrl-C stops everything" in output(),
            timeout=180,
            interval=0.5,
            message=f"bin/cluster did not start:\n{output()[-4000:]}",
        )
        assert proc.poll() is None, output()[-4000:]
        balancer = re.search(r"Evergreen on (http://127\.0\.0\.1:\d+)/ \(nginx\)", output())
        health = httpx.get(f"{balancer.group(1)}/api/health/", timeout=10)
        assert health.status_code == 200, health.text
        assert health.headers["x-upstream"]  # answered by a host behind nginx

        family = descendants(proc.pid) | {proc.pid}
        commands = set()
        for pid in family:
            with contextlib.suppress(OSError):
                commands.add(Path(f"/proc/{pid}/comm").read_text().strip())
        assert {"pgbouncer", "nginx"} <= commands, commands
        stop(proc, timeout=30)

    wait_until(
        lambda: not running(family),
        timeout=30,
        message=f"left running: {running(family)}\n{output()[-4000:]}",
    )
    assert proc.returncode in (143, -15), (proc.returncode, output()[-4000:])
