"""A standalone Spark cluster on loopback: a master, its workers and a Thrift server, each a process of its own.

It runs the project as a cluster does, with executors in other processes than the driver, reached through the
Thrift server (the ``spark_thrift`` target of profiles.yml). It takes Spark from the ``spark`` extra's
pyspark, which carries the master, the worker and the Thrift server; it needs the JDK 17 that the session
target needs too. The cluster's metastore, warehouse, logs and workers' folders live in one folder; the lake
must be one its executors read (on loopback, any local folder).

    with LoopbackCluster(folder, workers=2) as cluster:
        os.environ.update(cluster.environment())
        ...  # dbt build --target spark_thrift
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

THRIFT_HOST_VAR, THRIFT_PORT_VAR = "SPARK_THRIFT_HOST", "SPARK_THRIFT_PORT"  # profiles.yml, spark_thrift
HOST = "127.0.0.1"
THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


class ClusterError(RuntimeError):
    """A part of the cluster did not start; the message names it and its log."""


def spark_home() -> Path:
    """Spark's own folder: the installed pyspark's (its bin/ holds spark-class and spark-submit)."""
    try:
        import pyspark
    except ImportError:
        raise ClusterError("a Spark cluster needs the spark extra: pip install -e '.[spark]'") from None
    return Path(pyspark.__file__).parent


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    """Signal a process and its children (its own session); gone already is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class LoopbackCluster:
    """``workers`` workers of ``cores`` cores and ``memory`` each, under one master, and a Thrift server whose
    driver runs its queries on them (one executor per worker)."""

    def __init__(self, folder: Path, workers: int = 1, cores: int = 1, memory: str = "1g",
                 thrift_port: int | None = None, start_seconds: float = 180.0):
        self.folder = Path(folder).resolve()
        self.workers, self.cores, self.memory = workers, cores, memory
        self.start_seconds = start_seconds
        self.master_port, self.master_ui = free_port(), free_port()
        self.thrift_port = thrift_port or free_port()
        self._processes: list[tuple[str, subprocess.Popen, Path]] = []

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    def environment(self) -> dict[str, str]:
        """The variables the ``spark_thrift`` target reads."""
        return {THRIFT_HOST_VAR: HOST, THRIFT_PORT_VAR: str(self.thrift_port)}

    def query(self, sql: str) -> tuple[list[tuple], list[tuple]]:
        """A query through the cluster's Thrift server (:func:`thrift_query`)."""
        from sis_sync.spark import thrift_query

        return thrift_query(sql, HOST, self.thrift_port)

    # --- starting and stopping ---------------------------------------------------------------------------

    def __enter__(self) -> LoopbackCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if _listening(self.thrift_port):
            raise ClusterError(f"port {self.thrift_port} on {HOST} is taken (another Thrift server?)")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._start_master()
            for number in range(1, self.workers + 1):
                self._start_worker(number)
            self._wait(f"{self.workers} workers registered with the master", self._workers_alive)
            self._start_thrift_server()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (the Thrift server first, the master last), each with its children; signals
        wait until it is done, so that none is left running."""
        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            for _name, process, _log in reversed(self._processes):
                _kill_group(process, signal.SIGTERM)
            for _name, process, _log in reversed(self._processes):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    _kill_group(process, signal.SIGKILL)
                    process.wait()
            self._processes.clear()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def stopped(self) -> str | None:
        """The name of a part of the cluster that has stopped by itself, if any."""
        return next((name for name, process, _log in self._processes if process.poll() is not None), None)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = self.folder / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        home = spark_home()
        environment = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": HOST,
                       "SPARK_NO_DAEMONIZE": "1", **(env or {})}
        with open(log, "ab") as out:
            process = subprocess.Popen([str(home / "bin" / argv[0]), *argv[1:]], cwd=self.folder,
                                       stdout=out, stderr=subprocess.STDOUT, env=environment,
                                       start_new_session=True)
        self._processes.append((name, process, log))
        return process

    def _wait(self, what: str, ready) -> None:
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline:
            for name, process, log in self._processes:
                if process.poll() is not None:
                    raise ClusterError(f"the Spark {name} stopped (exit {process.returncode}) before {what};"
                                       f" its log: {log}")
            if ready():
                return
            time.sleep(0.5)
        raise ClusterError(f"no {what} after {self.start_seconds:.0f} s; the logs: {self.folder / 'logs'}")

    def _start_master(self) -> None:
        self._spawn("master", ["spark-class", "org.apache.spark.deploy.master.Master", "--host", HOST,
                               "--port", str(self.master_port), "--webui-port", str(self.master_ui)])
        self._wait("the master listening", lambda: _listening(self.master_port) and _listening(self.master_ui))

    def _start_worker(self, number: int) -> None:
        work = self.folder / f"worker-{number}"
        self._spawn(f"worker-{number}", [
            "spark-class", "org.apache.spark.deploy.worker.Worker", "--host", HOST,
            "--cores", str(self.cores), "--memory", self.memory, "--work-dir", str(work),
            "--webui-port", str(free_port()), self.master_url])

    def _workers_alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.master_ui}/json/", timeout=2) as response:
                state = json.load(response)
        except OSError:
            return False
        return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE") >= self.workers

    def _start_thrift_server(self) -> None:
        """The Thrift server: a Spark application on the cluster, with the cluster folder's metastore."""
        conf = {
            "spark.master": self.master_url,
            "spark.executor.cores": str(self.cores),
            "spark.executor.memory": self.memory,
            "spark.cores.max": str(self.cores * self.workers),
            "spark.sql.warehouse.dir": str(self.folder / "warehouse"),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": str(max(1, self.cores * self.workers)),
            "spark.ui.enabled": "false",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.folder}",
            "spark.hadoop.javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={self.folder / 'metastore_db'};create=true",
        }
        argv = ["spark-submit", "--class", THRIFT_SERVER, "--name", "sis-sync thrift server"]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        argv += ["spark-internal", "--hiveconf", f"hive.server2.thrift.port={self.thrift_port}",
                 "--hiveconf", f"hive.server2.thrift.bind.host={HOST}"]
        self._spawn("thrift-server", argv)
        self._wait("Thrift server listening", lambda: _listening(self.thrift_port))

