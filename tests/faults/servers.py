"""Private RabbitMQ and PostgreSQL servers for the fault suite.

The fault scenarios stop, start and restart the broker and the database. The machine's
shared servers (5672, 5432) serve every other test run on this machine, so the suite never
touches them: it starts a RabbitMQ node and a PostgreSQL cluster of its own, on free ports,
in temporary directories, once per session, and removes them at the end.

- RabbitMQ: a second node (`qaloopfaults-<id>@localhost`) with its own Erlang cookie in its
  own HOME, no plugins, its own config, Mnesia and log directories. It is started with the
  server's own script (`/usr/lib/rabbitmq/bin/rabbitmq-server`), not Debian's
  `/usr/sbin` wrapper, because the wrapper re-runs it as user `rabbitmq` with that user's
  HOME and cookie. It is controlled with `rabbitmqctl -n <node>` only; nothing here ever
  names the shared node.
- A RabbitMQ cluster (`PrivateRabbitCluster`): three such nodes sharing one cookie of their
  own, each with its own node name, AMQP and distribution ports and directories; the second
  and third `join_cluster` the first. `PrivateRabbit.kill()` SIGKILLs a node's Erlang VM and
  `relaunch()` starts it again on its own data, where it rejoins by itself.
- PostgreSQL: `initdb` + `pg_ctl` of the installed major version, in a directory owned by
  `postgres` (initdb refuses to run as root, so as root it runs under `runuser -u postgres`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path


class ServerError(RuntimeError):
    """A private server could not be started or controlled (the message says why)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- RabbitMQ


def rabbitmq_scripts() -> tuple[str, str] | None:
    """(rabbitmq-server, rabbitmqctl) of the installed server, bypassing Debian's su wrapper."""
    for base in ("/usr/lib/rabbitmq/bin", *sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin"))):
        server, ctl = Path(base, "rabbitmq-server"), Path(base, "rabbitmqctl")
        if server.exists() and ctl.exists():
            return str(server), str(ctl)
    server_path, ctl_path = shutil.which("rabbitmq-server"), shutil.which("rabbitmqctl")
    if server_path and ctl_path and os.geteuid() != 0:
        return server_path, ctl_path
    return None


@dataclass
class PrivateRabbit:
    """A RabbitMQ node of our own. `ctl(...)` runs rabbitmqctl against it (and only it)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="qaloop-faults-rmq-")))
    node: str = field(default_factory=lambda: f"qaloopfaults-{secrets.token_hex(3)}@localhost")
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    cookie: str = field(default_factory=lambda: secrets.token_hex(16).upper())  # a cluster's nodes share one
    process: subprocess.Popen[bytes] | None = None
    app_running: bool = False
    _ctl: str = "rabbitmqctl"
    _server: str = "rabbitmq-server"

    @property
    def log(self) -> Path:
        return self.root / "server.out"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.root / "home"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.root / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.root / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.root / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.root / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),  # not /etc/rabbitmq's
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def url(self, vhost: str = "") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def start(self, timeout: float = 90.0) -> None:
        scripts = rabbitmq_scripts()
        if scripts is None:
            raise ServerError("RabbitMQ is not installed (no rabbitmq-server / rabbitmqctl found)")
        self._server, self._ctl = scripts
        (self.root / "home").mkdir(parents=True)
        (self.root / "mnesia").mkdir()
        (self.root / "log").mkdir()
        cookie = self.root / "home" / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "log.console = false\n"
            "log.file.level = warning\n"
            "disk_free_limit.absolute = 50MB\n"
        )
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        """Start the node's Erlang VM on its directories and wait until the app is up."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self._server],
                env=self.env(),
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:  # await_startup fails at once until the node has registered with epmd
            if self.process.poll() is not None:
                raise ServerError(
                    f"the private RabbitMQ node {self.node} exited with {self.process.returncode} while starting:\n"
                    f"{_tail(self.log)}"
                )
            result = self.ctl("await_startup", "--timeout", "30", check=False, timeout=40)
            if result.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the private RabbitMQ node {self.node} did not start within {timeout:.0f}s:\n"
                    f"{result.stdout}{result.stderr}\n{_tail(self.log)}"
                )
            time.sleep(0.5)
        if not _wait_port(self.port, 30):
            raise ServerError(f"the private RabbitMQ node {self.node} does not listen on {self.port}")
        self.app_running = True

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the node's Erlang VM (its process group: the VM and its port programs).
        epmd is not among them: the machine's own RabbitMQ started it long before."""
        assert self.process is not None
        self.app_running = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def relaunch(self, timeout: float = 120.0) -> None:
        """Start a killed node again on its own data: it rejoins its cluster by itself."""
        assert not self.alive, "the node is running"
        self._launch(timeout)

    def ctl(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self._ctl, "-n", self.node, *args], env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise ServerError(f"rabbitmqctl -n {self.node} {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def add_vhost(self, vhost: str) -> str:
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return self.url(vhost)

    def delete_vhost(self, vhost: str) -> None:
        self.ctl("delete_vhost", vhost, check=False)

    def stop_app(self) -> None:
        """`rabbitmqctl stop_app`: the node closes every connection and stops listening."""
        self.app_running = False
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "60", timeout=90)
        if not _wait_port(self.port, 30):
            raise ServerError(f"the private RabbitMQ node {self.node} does not listen on {self.port} after start_app")
        self.app_running = True

    def ensure_running(self) -> None:
        """After a scenario that failed while the broker was stopped (or killed)."""
        if self.process is not None and not self.alive:
            self.relaunch()
        elif not self.app_running:
            self.start_app()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.ctl("stop", check=False, timeout=60)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # our own node's process group
                self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class QuorumStatus:
    """A quorum queue's Raft membership (`rabbitmqctl list_queues name leader members online`)."""

    leader: str
    members: tuple[str, ...]
    online: tuple[str, ...]


def _erlang_list(text: str) -> tuple[str, ...]:
    """`[a@localhost,b@localhost]` (or `""`) as node names."""
    inner = text.strip().strip("[]")
    return tuple(part.strip().strip("'\"") for part in inner.split(",") if part.strip())


@dataclass
class PrivateRabbitCluster:
    """Three RabbitMQ nodes of our own on this machine, clustered (`join_cluster`): each
    with its own node name, AMQP and distribution ports, HOME, Mnesia and log directories,
    and one Erlang cookie that only they share. No plugins (no management API): the
    queues' leaders and members are read with rabbitmqctl.

    `url(vhost)` lists every node (comma-separated, as QALOOP_AMQP_URL takes a cluster);
    `ctl(...)` runs rabbitmqctl against a node that is up."""

    size: int = 3
    nodes: list[PrivateRabbit] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            tag, cookie = secrets.token_hex(3), secrets.token_hex(16).upper()
            self.nodes = [
                PrivateRabbit(node=f"qaloopcluster-{tag}-{i}@localhost", cookie=cookie) for i in range(self.size)
            ]

    @property
    def first(self) -> PrivateRabbit:
        return self.nodes[0]

    def node_named(self, name: str) -> PrivateRabbit:
        return next(n for n in self.nodes if n.node == name)

    def start(self) -> None:
        """Start the nodes (side by side), then join the second and third to the first."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            errors = [f.exception() for f in [pool.submit(n.start) for n in self.nodes]]
        failures = [e for e in errors if e is not None]
        if failures:
            raise ServerError("; ".join(str(e) for e in failures))
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("reset")
            node.ctl("join_cluster", self.first.node)
            node.start_app()
        self.await_whole()

    def running_nodes(self) -> set[str]:
        out = self.ctl("eval", "rabbit_nodes:all_running().", timeout=60).stdout
        return set(_erlang_list(out))

    def await_whole(self, timeout: float = 120.0) -> None:
        """Until every node is in the cluster and running."""
        want = {n.node for n in self.nodes}
        deadline = time.monotonic() + timeout
        while (running := self.running_nodes()) != want:
            if time.monotonic() > deadline:
                raise ServerError(f"the private cluster runs {sorted(running)}, not {sorted(want)}")
            time.sleep(1.0)

    def url(self, vhost: str = "", order: Sequence[int] | None = None) -> str:
        """Every node's URL, comma-separated (in `order`, by node index, when given)."""
        picked = [self.nodes[i] for i in order] if order is not None else self.nodes
        return ",".join(n.url(vhost) for n in picked)

    def ctl(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """rabbitmqctl against the first node whose app is up."""
        for node in self.nodes:
            if node.alive and node.app_running:
                return node.ctl(*args, check=check, timeout=timeout)
        raise ServerError("no node of the private cluster is up")

    def add_vhost(self, vhost: str) -> str:
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return self.url(vhost)

    def delete_vhost(self, vhost: str) -> None:
        self.ctl("delete_vhost", vhost, check=False)

    def quorum_status(self, vhost: str, queue: str) -> QuorumStatus:
        out = self.ctl("list_queues", "-p", vhost, "name", "leader", "members", "online", "--silent").stdout
        for line in out.splitlines():
            cells = line.strip().split("\t")
            if cells[0] == queue and len(cells) == 4:
                return QuorumStatus(cells[1].strip(), _erlang_list(cells[2]), _erlang_list(cells[3]))
        raise ServerError(f"no queue {queue} in vhost {vhost}: {out!r}")

    def ensure_running(self) -> None:
        """Every node up and in the cluster again, after a scenario killed or stopped one."""
        for node in self.nodes:
            if node.process is not None:
                node.ensure_running()
        self.await_whole()

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


# --------------------------------------------------------------------------- PostgreSQL


def _parent_pid(stat: Path) -> int | None:
    """The parent pid in /proc/<pid>/stat (None once the process is gone or a zombie)."""
    try:
        fields = stat.read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[1])


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own; `restart()` is `pg_ctl restart -m fast`."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="qaloop-faults-pg-")))
    port: int = field(default_factory=free_port)
    started: bool = False
    running: bool = False
    _bin: Path | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        assert self._bin is not None
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        result = self._run(
            str(self._bin / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            *extra,
        )
        if result.returncode != 0:
            raise ServerError(f"pg_ctl {action} failed: {result.stdout}{result.stderr}\n{_tail(self.log)}")

    def start(self) -> None:
        self._bin = postgres_bindir()
        if self._bin is None:
            raise ServerError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)")
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError("running as root but there is no `postgres` user to run initdb as") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        result = self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if result.returncode != 0:
            raise ServerError(f"initdb failed: {result.stdout}{result.stderr}")
        self._pg_ctl("start")
        self.started = self.running = True

    def start_replica_of(self, primary: PrivatePostgres) -> None:
        """A streaming read replica of `primary` (`pg_basebackup -R`: a base backup that
        starts as a standby and follows the primary's WAL), on a port of its own."""
        self._bin = primary._bin or postgres_bindir()
        if self._bin is None:
            raise ServerError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        result = self._run(
            str(self._bin / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.data), "-R", "-X", "stream", "--no-sync"),
        )
        if result.returncode != 0:
            raise ServerError(f"pg_basebackup failed: {result.stdout}{result.stderr}")
        self._pg_ctl("start")
        self.started = self.running = True

    def promote(self) -> None:
        """`pg_ctl promote -w`: a standby stops following and becomes a primary."""
        self._pg_ctl("promote")

    def kill(self) -> None:
        """SIGKILL to the postmaster and every process it started (backends, WAL writer and
        sender…), all at once: the server is gone as with its machine, nothing flushed or
        said to any client."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat") if _parent_pid(stat) == pid]
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{p}").exists() and _parent_pid(Path(f"/proc/{p}/stat")) for p in (pid, *children)):
            if time.monotonic() > deadline:
                raise ServerError("the killed PostgreSQL processes did not go away")
            time.sleep(0.05)
        self.running = False
        self.started = False  # its data is left as a crash leaves it; `stop` only removes it

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is disconnected, then the server comes back."""
        self.running = False
        self._pg_ctl("restart", "-m", "fast")
        self.running = True

    def ensure_running(self) -> None:
        """After a scenario that failed in the middle of a restart."""
        if not self.running:
            assert self._bin is not None
            status = self._run(str(self._bin / "pg_ctl"), "status", "-D", str(self.data))
            if status.returncode != 0:
                self._pg_ctl("start")
            self.running = True

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(Exception):
                self._pg_ctl("stop", "-m", "immediate")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivatePostgresPair:
    """A primary and a streaming standby of our own, for failover: replication is
    synchronous (`synchronous_standby_names = '*'`, `synchronous_commit = on`), so a commit
    a client was told of is on the standby too, as a failover that promises no loss needs.
    `url(database)` names both (`target_session_attrs=read-write`), the primary first.
    `fail_over()` SIGKILLs the primary and promotes the standby."""

    primary: PrivatePostgres = field(default_factory=PrivatePostgres)
    standby: PrivatePostgres = field(default_factory=PrivatePostgres)
    failed_over: bool = False

    def start(self) -> None:
        self.primary.start()
        self.standby.start_replica_of(self.primary)
        # Only now: set while no standby is attached, every commit would wait for one.
        self._psql(self.primary, "ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while self.sync_state() != "sync":
            if time.monotonic() > deadline:
                raise ServerError(f"the standby is not a synchronous standby: {self.sync_state()!r}")
            time.sleep(0.2)

    @staticmethod
    def _psql(server: PrivatePostgres, *commands: str) -> str:
        assert server._bin is not None
        args = [a for c in commands for a in ("-c", c)]
        result = server._run(str(server._bin / "psql"), server.admin_url, "-At", *args)
        if result.returncode != 0:
            raise ServerError(f"psql {commands} failed: {result.stdout}{result.stderr}")
        return result.stdout.strip()

    def sync_state(self) -> str:
        """pg_stat_replication.sync_state of the standby, as the primary sees it."""
        return self._psql(self.primary, "SELECT string_agg(sync_state, ',') FROM pg_stat_replication")

    @property
    def current(self) -> PrivatePostgres:
        return self.standby if self.failed_over else self.primary

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        hosts = ",".join(f"127.0.0.1:{p.port}" for p in (self.primary, self.standby))
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def fail_over(self, detection: float = 0.0) -> None:
        """SIGKILL of the primary, then, `detection` seconds later (a failover manager's time
        to notice; meanwhile the standby still refuses writes), `pg_ctl promote` of the standby."""
        self.primary.kill()
        self.failed_over = True
        time.sleep(detection)
        self.standby.promote()

    def ensure_running(self) -> None:
        self.current.ensure_running()

    def stop(self) -> None:
        self.standby.stop()
        self.primary.stop()
