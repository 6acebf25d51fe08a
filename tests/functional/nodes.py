"""Extra RabbitMQ nodes on this machine, and test certificates for TLS.

A :class:`RabbitNode` is a second, independent (not clustered) broker run
from the installed ``rabbitmq-server`` with everything in a throw-away
directory: its own node name, AMQP and distribution ports, data, logs, an
empty plugin list and a ``rabbitmq.conf`` of its own (so the system one,
which binds the main broker's port, is not read). It shares the Erlang
cookie with the main broker because it runs as the same user; when the
tests run as root, the Debian wrapper scripts switch to the ``rabbitmq``
user, so the directory is handed to that user.

Waiting uses ``rabbitmqctl wait <pid file>``, which follows the OS process
and returns as soon as the node is up (or gone), never a fixed sleep.

:func:`make_certificates` creates a CA, a server and a client certificate
(and a second, unrelated CA) with the ``openssl`` command.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RabbitNode", "NodeError", "Certificates", "make_certificates",
           "rabbit_server_available"]

_CTL_TIMEOUT = 60.0


class NodeError(Exception):
    """The extra node could not be started or stopped (text says why, with its log)."""


def rabbit_server_available() -> str | None:
    """None when ``rabbitmq-server`` and ``rabbitmqctl`` are on PATH, else why not."""
    missing = [tool for tool in ("rabbitmq-server", "rabbitmqctl") if shutil.which(tool) is None]
    return f"{', '.join(missing)} not on PATH" if missing else None


def _service_user() -> pwd.struct_passwd | None:
    """The account the RabbitMQ wrapper scripts switch to when run as root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("rabbitmq")
    except KeyError:
        return None


def _hand_over(path: Path) -> None:
    """Let the broker's account read and write ``path`` (recursively)."""
    user = _service_user()
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)


@dataclass(frozen=True)
class Certificates:
    """PEM files for TLS tests; ``wrong_ca`` signed none of the others."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_certificates(directory: Path, server_name: str = "localhost") -> Certificates:
    """A test CA, a server certificate for ``server_name`` (DNS only) and a client one.

    EC P-256 keys: generated in milliseconds, unlike RSA. The server
    certificate names ``server_name`` only, so connecting by IP address
    fails hostname verification (which the tests check).
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ca_ext = ("-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name in ("ca", "wrong_ca"):
        _openssl("req", "-x509", *key, "-keyout", f"{name}.key", "-out", f"{name}.pem",
                 "-days", "2", "-subj", f"/CN=msgframework test {name}", *ca_ext,
                 cwd=directory)
    for name, usage, san in (("server", "serverAuth", f"subjectAltName=DNS:{server_name}"),
                             ("client", "clientAuth", "")):
        _openssl("req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={server_name if name == 'server' else 'guest'}",
                 cwd=directory)
        ext = directory / f"{name}.ext"
        ext.write_text("basicConstraints=CA:FALSE\n"
                       "keyUsage=critical,digitalSignature,keyEncipherment\n"
                       f"extendedKeyUsage={usage}\n"
                       "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
                       + (san + "\n" if san else ""))
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", ext.name, cwd=directory)
    return Certificates(directory / "ca.pem", directory / "server.pem",
                        directory / "server.key", directory / "client.pem",
                        directory / "client.key", directory / "wrong_ca.pem")


class RabbitNode:
    """One extra local RabbitMQ node; see the module docstring.

    :param port: plain AMQP port on 127.0.0.1.
    :param tls_port: TLS AMQP port on 127.0.0.1 (needs ``certificates``);
        clients must present a certificate signed by the test CA.
    """

    def __init__(self, port: int, dist_port: int, tls_port: int | None = None,
                 certificates: Certificates | None = None,
                 base: Path | None = None) -> None:
        self.name = f"msgf_{uuid.uuid4().hex[:8]}@localhost"
        self.port = port
        self.dist_port = dist_port
        self.tls_port = tls_port
        self.certificates = certificates
        self.dir = Path(base or tempfile.mkdtemp(prefix="msgf-node-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid_file = self.dir / "node.pid"
        self._write_config()

    # -- files -------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "enabled_plugins").write_text("[].\n")
        lines = [f"listeners.tcp.local = 127.0.0.1:{self.port}",
                 "loopback_users.guest = true"]
        if self.tls_port is not None:
            certs = self.certificates
            if certs is None:
                raise ValueError("a TLS port needs certificates")
            lines += [f"listeners.ssl.local = 127.0.0.1:{self.tls_port}",
                      f"ssl_options.cacertfile = {certs.ca}",
                      f"ssl_options.certfile = {certs.server_cert}",
                      f"ssl_options.keyfile = {certs.server_key}",
                      "ssl_options.verify = verify_peer",
                      "ssl_options.fail_if_no_peer_cert = true"]
        (self.dir / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        _hand_over(self.dir)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.dir / "advanced.config"),
            RABBITMQ_PID_FILE=str(self._pid_file),
        )
        return env

    # -- life cycle ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60.0) -> float:
        """Start the node and wait until it accepts connections; returns the seconds taken.

        :raises NodeError: it exited or was not up within ``timeout`` (it is
            then stopped again).
        """
        if self.running:
            return 0.0
        started = time.monotonic()
        with contextlib.suppress(FileNotFoundError):
            self._pid_file.unlink()
        log = open(self.dir / "server.out", "ab")  # the child keeps its own descriptor
        try:
            self._proc = subprocess.Popen(["rabbitmq-server"], env=self._env(), cwd=self.dir,
                                          stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        waiter = subprocess.Popen(
            ["rabbitmqctl", "-n", self.name, "wait", str(self._pid_file),
             "--timeout", str(int(timeout))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = started + timeout + 5
        try:
            while True:
                try:
                    output, _ = waiter.communicate(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if self._proc.poll() is not None:
                        raise NodeError(f"{self.name} exited with {self._proc.returncode}"
                                        f"{self._log_tail()}") from None
                    if time.monotonic() > deadline:
                        raise NodeError(f"{self.name} not up within {timeout:.0f}s"
                                        f"{self._log_tail()}") from None
            if waiter.returncode != 0:
                raise NodeError(f"{self.name} did not start: "
                                f"{output.decode(errors='replace').strip()}{self._log_tail()}")
        except BaseException:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait(5)
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self, timeout: float = _CTL_TIMEOUT) -> None:
        """Stop the node (``rabbitmqctl stop``), killing what we started if that fails."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                subprocess.run(["rabbitmqctl", "-n", self.name, "stop", str(self._pid_file)],
                               capture_output=True, timeout=timeout, check=False)
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._kill_node_pid()  # the Erlang VM, which the wrapper may not pass on
                self._kill(proc)
        self._proc = None

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the session we created for it
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def _kill_node_pid(self) -> None:
        """SIGKILL the node's VM, only if that pid still runs *this* node."""
        try:
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if self.name.split("@")[0].encode() in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the node and delete its directory (data, logs, certificates)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _log_tail(self, lines: int = 15) -> str:
        texts = []
        for path in [self.dir / "server.out", *sorted((self.dir / "log").glob("*.log"))]:
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                if tail:
                    texts.append(f"\n--- {path.name} ---\n" + "\n".join(tail))
        return "".join(texts)

    @property
    def kombu_url(self) -> str:
        """A kombu URL for raw access to this node (plain port, guest)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"
