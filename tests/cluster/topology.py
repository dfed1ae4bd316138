"""Several Evergreen hosts on one machine, the way a deployment runs them on many.

    PgBouncer (transaction pooling) --> PostgreSQL <-- one LISTEN per process
        ^                                    (direct: LISTEN_DATABASE_URL)
        |
    host a: uvicorn workers + Django-Q2 cluster   \\
    host b: uvicorn workers + Django-Q2 cluster   -- Redis: broker and shared cache
        ^
    nginx (load balancer, configured for Server-Sent Events)

Each host has its own name (EVERGREEN_HOST, in its log lines) and its own
PostgreSQL `application_name` (evergreen-host-<name>). The configurations are
written into a run directory with free ports; `Topology.stop()` stops everything
that was started, whatever state it is in. `bin/cluster` runs `main()`; the tests
in tests/cluster/ use `start()` (docs/scaling.md).

This module needs no Django settings of its own: it is given the database URL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.processes import ROOT, free_port

PACKAGES = {"pgbouncer": "pgbouncer", "nginx": "nginx"}


@dataclass(frozen=True)
class Sizes:
    """How big each part is. The PostgreSQL connections of the whole topology are at
    most `postgres_bound()`: the bouncer's server connections plus one LISTEN per
    process that waits (every web worker and every cluster worker)."""

    hosts: int = 2
    web_workers: int = 2
    q_workers: int = 1
    # Client connections each web worker pools towards the bouncer (cheap: the bouncer
    # multiplexes them onto its own few server connections).
    db_pool_max: int = 4
    # Server connections the bouncer opens to PostgreSQL, for every host together.
    bouncer_pool: int = 8

    def listen_connections(self) -> int:
        return self.hosts * (self.web_workers + self.q_workers)

    def postgres_bound(self) -> int:
        return self.bouncer_pool + self.listen_connections()


def ensure_packages() -> None:
    """PgBouncer and nginx from Debian, installed only when missing (as bin/test does)."""
    missing = [pkg for cmd, pkg in PACKAGES.items() if shutil.which(cmd) is None]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _which(name: str) -> str:
    # Debian puts both in /usr/sbin, which an ordinary user's PATH may not list.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install {PACKAGES[name]})")
    return found


def with_port(url: str, *, port: int, host: str = "127.0.0.1") -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _wait(predicate, *, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not start within {timeout:.0f}s\n{tail}")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _spawn(args: list[str], *, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child in a process group of its own, its output in `log`."""
    with log.open("a") as out:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _end(proc: subprocess.Popen | None, *, timeout: float, main_only: bool = False) -> None:
    """SIGTERM (to the main process only, or to its group), then SIGKILL to the group.

    A Django-Q2 cluster is stopped with one SIGTERM to its main process (a SIGTERM to
    every process at once can leave it hanging: docs/operations.md)."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if main_only:
                proc.send_signal(signal.SIGTERM)
            else:
                os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    # Whatever is left of the group (workers of a killed main process too).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


@dataclass
class Host:
    """One host: its web server (uvicorn, several workers) and its Django-Q2 cluster."""

    name: str
    port: int
    env: dict[str, str]
    run_dir: Path
    web: subprocess.Popen | None = None
    cluster: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def web_log(self) -> Path:
        return self.run_dir / f"host-{self.name}-web.log"

    @property
    def cluster_log(self) -> Path:
        return self.run_dir / f"host-{self.name}-cluster.log"

    def start_web(self, *, timeout: float = 60) -> None:
        args = [
            *(sys.executable, "-m", "uvicorn", "config.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *("--workers", self.env["WEB_WORKERS"], "--lifespan", "off", "--no-access-log"),
            *("--timeout-graceful-shutdown", "5"),
        ]
        self.web = _spawn(args, log=self.web_log, env=self.env)
        _wait(
            lambda: self.web.poll() is not None or _http_status(f"{self.url}/api/health/") == 200,
            timeout=timeout,
            what=f"host {self.name}'s web server",
            log=self.web_log,
        )
        if self.web.poll() is not None:
            raise RuntimeError(f"host {self.name}'s web server exited:\n{self.logs()}")

    def start_cluster(self) -> None:
        self.cluster = _spawn(
            [sys.executable, "manage.py", "qcluster"], log=self.cluster_log, env=self.env
        )

    def stop_web(self, timeout: float = 15) -> None:
        _end(self.web, timeout=timeout)

    def stop_cluster(self, timeout: float = 30) -> None:
        _end(self.cluster, timeout=timeout, main_only=True)

    def stop(self) -> None:
        self.stop_web()
        self.stop_cluster()

    def kill(self) -> None:
        """SIGKILL to every process of the host at once: a machine that died."""
        for proc in (self.web, self.cluster):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc in (self.web, self.cluster):
            if proc is not None:
                proc.wait(timeout=10)

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """A one-off manage.py command run on this host (its settings, its broker)."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def logs(self, chars: int = 4000) -> str:
        parts = []
        for log in (self.web_log, self.cluster_log):
            if log.exists():
                parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


@dataclass
class Topology:
    database_url: str  # PostgreSQL itself
    sizes: Sizes
    run_dir: Path
    redis_url: str
    bouncer_port: int = 0
    nginx_port: int = 0
    hosts: dict[str, Host] = field(default_factory=dict)
    bouncer: subprocess.Popen | None = None
    nginx: subprocess.Popen | None = None
    own_run_dir: bool = False
    namespace: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    redis_db: int = 5

    @property
    def url(self) -> str:
        """The load balancer: what clients use."""
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def bouncer_url(self) -> str:
        return with_port(self.database_url, port=self.bouncer_port)

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def forget_redis_keys(self) -> None:
        """Delete this topology's queue and cache keys (named after its namespace)."""
        import redis

        for db in (self.redis_db, self.redis_db + 1):
            client = redis.Redis.from_url(f"{self.redis_url.rstrip('/')}/{db}")
            keys = list(client.scan_iter(match=f"*evergreen-{self.namespace}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()

    # --- PgBouncer -------------------------------------------------------------------

    def _bouncer_config(self) -> Path:
        directory = self.run_dir / "pgbouncer"
        directory.mkdir(exist_ok=True)
        direct = urlsplit(self.database_url)
        user = direct.username or "postgres"
        (directory / "userlist.txt").write_text(f'"{user}" "{direct.password or ""}"\n')
        auth = "trust" if not direct.password else "plain"
        config = directory / "pgbouncer.ini"
        config.write_text(
            f"""\
[databases]
* = host={direct.hostname or "127.0.0.1"} port={direct.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.bouncer_port}
unix_socket_dir =
auth_type = {auth}
auth_file = {directory / "userlist.txt"}
pool_mode = transaction
max_client_conn = 1000
default_pool_size = {self.sizes.bouncer_pool}
max_db_connections = {self.sizes.bouncer_pool}
min_pool_size = 0
reserve_pool_size = 0
server_idle_timeout = 30
ignore_startup_parameters = extra_float_digits
logfile = {directory / "pgbouncer.log"}
pidfile = {directory / "pgbouncer.pid"}
"""
        )
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: it runs as postgres, who reads and
            # writes this directory.
            postgres = pwd.getpwnam("postgres")
            for path in (directory, *directory.iterdir()):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            os.chmod(self.run_dir, 0o755)
        return config

    def start_bouncer(self) -> None:
        self.bouncer_port = free_port()
        config = self._bouncer_config()
        args = [_which("pgbouncer")]
        if os.geteuid() == 0:
            args += ["-u", "postgres"]
        self.bouncer = _spawn([*args, str(config)], log=self.run_dir / "pgbouncer.out")
        _wait(
            lambda: self.bouncer.poll() is not None or _port_open(self.bouncer_port),
            timeout=20,
            what="PgBouncer",
            log=self.run_dir / "pgbouncer" / "pgbouncer.log",
        )
        if self.bouncer.poll() is not None:
            raise RuntimeError(
                "PgBouncer exited:\n"
                + (self.run_dir / "pgbouncer.out").read_text(errors="replace")[-2000:]
            )

    # --- nginx -----------------------------------------------------------------------

    def _nginx_config(self) -> Path:
        directory = self.run_dir / "nginx"
        (directory / "tmp").mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"        server 127.0.0.1:{host.port} max_fails=1 fail_timeout=5s;"
            for host in self.hosts.values()
        )
        temp = "\n".join(
            f"    {kind}_temp_path {directory / 'tmp' / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # Server-Sent Events through the balancer: no buffering (each event is passed
        # on as it comes), a read timeout well above the heartbeat (an idle stream is
        # kept open), Last-Event-ID passed on (a client resumes on whichever host it
        # lands), HTTP/1.1 with keepalive to the hosts. The read timeout must also outlast
        # the longest wait of an ordinary request: a read waiting for someone else's
        # generation (GENERATION_WAIT_SECONDS, 45 s by default), or nginx would answer
        # 502 and try the read again on the other host. Only a refused connection is
        # tried on the other host (a dead host), never a slow answer.
        env = self.hosts_env()
        read_timeout = int(
            max(
                60,
                4 * float(env.get("SSE_HEARTBEAT_SECONDS", "15")),
                15 + float(env.get("GENERATION_WAIT_SECONDS", "45")),
                15 + float(env.get("REVIEWS_MAX_WAIT_SECONDS", "30")),
            )
        )
        config = directory / "nginx.conf"
        config.write_text(
            f"""\
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;
events {{ worker_connections 2048; }}
http {{
    access_log off;
{temp}
    upstream evergreen {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        location / {{
            proxy_pass http://evergreen;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Last-Event-ID $http_last_event_id;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout {read_timeout}s;
            proxy_send_timeout {read_timeout}s;
            proxy_next_upstream error;
            # Which host answered (the tests check that the load is spread).
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""
        )
        return config

    def start_nginx(self) -> None:
        self.nginx_port = free_port()
        config = self._nginx_config()
        directory = config.parent
        args = [_which("nginx"), "-p", str(directory), "-e", str(directory / "error.log")]
        args += ["-c", str(config), "-g", "daemon off;"]
        self.nginx = _spawn(args, log=self.run_dir / "nginx.out")
        _wait(
            lambda: self.nginx.poll() is not None or _port_open(self.nginx_port),
            timeout=20,
            what="nginx",
            log=directory / "error.log",
        )
        if self.nginx.poll() is not None:
            raise RuntimeError(
                "nginx exited:\n" + (directory / "error.log").read_text(errors="replace")[-2000:]
            )

    # --- hosts -----------------------------------------------------------------------

    def hosts_env(self) -> dict[str, str]:
        return next(iter(self.hosts.values())).env if self.hosts else {}

    def add_host(self, name: str, env: dict[str, str]) -> Host:
        host = Host(name=name, port=free_port(), env=env, run_dir=self.run_dir)
        self.hosts[name] = host
        return host

    def logs(self, chars: int = 3000) -> str:
        """The tail of every log: the hosts', nginx's and PgBouncer's."""
        parts = [host.logs(chars) for host in self.hosts.values()]
        for log in (
            self.run_dir / "nginx" / "error.log",
            self.run_dir / "pgbouncer" / "pgbouncer.log",
        ):
            if log.exists():
                parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Everything started, in reverse order, whatever state it is in."""
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.stop()
        _end(self.nginx, timeout=10)
        _end(self.bouncer, timeout=10)
        with contextlib.suppress(Exception):
            self.forget_redis_keys()
        if self.own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def host_env(
    base: dict[str, str],
    *,
    name: str,
    topology: Topology,
    namespace: str,
    redis_db: int,
) -> dict[str, str]:
    sizes = topology.sizes
    redis = topology.redis_url.rstrip("/")
    env = dict(base)
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="config.settings",
        EVERGREEN_HOST=f"host-{name}",
        DB_APPLICATION_NAME=f"evergreen-host-{name}",
        # Requests and the cluster go through the bouncer; the LISTEN goes direct.
        DATABASE_URL=topology.bouncer_url,
        LISTEN_DATABASE_URL=topology.database_url,
        DB_TRANSACTION_POOLER="true",
        DB_POOL="true",
        DB_POOL_MIN_SIZE="0",
        DB_POOL_MAX_SIZE=str(sizes.db_pool_max),
        WEB_WORKERS=str(sizes.web_workers),
        Q_WORKERS=str(sizes.q_workers),
        # One queue and one cache shared by every host: the same names on each.
        Q_CLUSTER_NAME=f"evergreen-{namespace}",
        Q_REDIS_URL=f"{redis}/{redis_db}",
        REDIS_CACHE_URL=f"{redis}/{redis_db + 1}",
        CACHE_KEY_PREFIX=f"evergreen-{namespace}",
    )
    return env


@contextlib.contextmanager
def start(
    database_url: str,
    *,
    sizes: Sizes | None = None,
    env: dict[str, str] | None = None,
    redis_url: str = "redis://127.0.0.1:6379",
    redis_db: int = 5,
    run_dir: Path | None = None,
    names: tuple[str, ...] = ("a", "b"),
) -> Iterator[Topology]:
    """PgBouncer, the hosts (each its web server and its cluster) and nginx, on
    `database_url` (migrated already); everything is stopped when the block ends.

    `env` is every host's environment (the provider, timings); the topology adds
    the connection settings. The broker and the cache use Redis databases `redis_db`
    and `redis_db + 1`, their keys named per topology, so two topologies never
    share a queue."""
    sizes = sizes or Sizes(hosts=len(names))
    own = run_dir is None
    run_dir = Path(tempfile.mkdtemp(prefix="evergreen-cluster-")) if own else run_dir
    topology = Topology(
        database_url=database_url,
        sizes=sizes,
        run_dir=run_dir,
        redis_url=redis_url,
        own_run_dir=own,
        redis_db=redis_db,
    )
    namespace = topology.namespace
    base = dict(os.environ if env is None else env)
    try:
        topology.start_bouncer()
        for name in names:
            env_of_host = host_env(
                base, name=name, topology=topology, namespace=namespace, redis_db=redis_db
            )
            topology.add_host(name, env_of_host)
        for host in topology.hosts.values():
            host.start_cluster()
        for host in topology.hosts.values():
            host.start_web()
        topology.start_nginx()
        yield topology
    finally:
        topology.stop()


def main(argv: list[str] | None = None) -> int:
    """bin/cluster: the topology on DATABASE_URL until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="bin/cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=int(os.environ.get("CLUSTER_HOSTS", 2)))
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", 2)))
    parser.add_argument("--q-workers", type=int, default=int(os.environ.get("Q_WORKERS", 1)))
    parser.add_argument(
        "--bouncer-pool", type=int, default=int(os.environ.get("BOUNCER_POOL_SIZE", 8))
    )
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("CLUSTER_REDIS_DB", 5)))
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        print("bin/cluster needs a PostgreSQL DATABASE_URL", file=sys.stderr)
        return 2
    names = tuple(chr(ord("a") + i) for i in range(args.hosts))
    sizes = Sizes(
        hosts=args.hosts,
        web_workers=args.web_workers,
        q_workers=args.q_workers,
        bouncer_pool=args.bouncer_pool,
        db_pool_max=int(os.environ.get("DB_POOL_MAX_SIZE", 4)),
    )
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        with start(
            database_url,
            sizes=sizes,
            redis_db=args.redis_db,
            names=names,
        ) as topology:
            print(f"Evergreen on {topology.url}/ (nginx) over {args.hosts} hosts:", flush=True)
            for host in topology.hosts.values():
                print(
                    f"  host {host.name}: {host.url}/ ({args.web_workers} uvicorn workers,"
                    f" a Django-Q2 cluster of {args.q_workers}), logs {host.web_log.name},"
                    f" {host.cluster_log.name}",
                    flush=True,
                )
            print(
                f"  PgBouncer (transaction pooling) on 127.0.0.1:{topology.bouncer_port},"
                f" {sizes.bouncer_pool} server connections; at most {sizes.postgres_bound()}"
                f" PostgreSQL connections with the LISTENs",
                flush=True,
            )
            print(
                f"  configs and logs in {topology.run_dir} (removed at the end);"
                " Ctrl-C stops everything",
                flush=True,
            )
            while True:
                for host in topology.hosts.values():
                    for proc in (host.web, host.cluster):
                        if proc is not None and proc.poll() is not None:
                            print(
                                f"host {host.name}: a process ended; stopping\n" + topology.logs(),
                                file=sys.stderr,
                            )
                            return 1
                time.sleep(0.5)
    except KeyboardInterrupt:
        return 143 if stopping else 130


if __name__ == "__main__":
    sys.exit(main())
