"""The services a fault test may break: a Redis of its own, and a TCP proxy to PostgreSQL.

- ``OwnRedis``: ``redis-server --save "" --appendonly no`` on a free port, which the test
  may restart (it comes back empty, as a Redis without persistence does).
- ``BlockableProxy``: a TCP proxy (threads) in front of PostgreSQL; ``block(seconds)``
  drops every connection and refuses new ones for that long: "PostgreSQL unavailable".
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import redis

from jobsys.testing import wait_until


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """A ``redis-server`` without persistence on a port of the test's own."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.restarts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OwnRedis:
        """Start the server and wait until it answers."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--logfile", str(self.log_path)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        try:
            wait_until(lambda: self._pings(client), 10, 0.05, "the test Redis to answer")
        finally:
            client.close()
        return self

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """Kill the server (SIGKILL: nothing is saved, as with a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, down_for: float = 1.0) -> None:
        """Kill the server, wait ``down_for`` seconds, start it again (empty)."""
        self.stop()
        time.sleep(down_for)  # the outage itself: nothing to wait for
        self.start()
        self.restarts += 1


class BlockableProxy:
    """A TCP proxy from a free port to ``target``; ``block()`` makes the target unreachable."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.blocks = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = False
        #: set while blocked
        self.blocked = threading.Event()

    def start(self) -> BlockableProxy:
        """Listen and serve."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: blocked or stopped
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._conns.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def _drop_all(self) -> None:
        if self._listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone would not
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._close(s)

    def block(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for ``seconds``, then serve again."""
        self._drop_all()
        self.blocks += 1
        self.blocked.set()
        time.sleep(seconds)  # the outage itself: nothing to wait for
        if not self._stopped:
            self.start()
        self.blocked.clear()

    def stop(self) -> None:
        """Stop serving for good."""
        self._stopped = True
        self._drop_all()
