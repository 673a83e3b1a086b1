"""A real OpenSSH server for the SFTP tests: ``/usr/sbin/sshd -D -e -f <config>`` on a free loopback port, with a
throwaway host key, one authorized client key, ``Subsystem sftp internal-sftp`` and no chroot, running as the
current user. ``kill()`` SIGKILLs the listener and every session process it forked (the way a crashed or
rebooted server drops a transfer); ``start()`` brings it back on the same port with the same key."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def new_key(path: Path) -> str:
    """A fresh passphrase-less Ed25519 key at ``path``; its private text."""
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (sshd forks a session process per connection, in its own session)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Sshd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.files = root / "files"
        self.files.mkdir(parents=True)
        keys = root / "keys"
        keys.mkdir()
        new_key(keys / "host")
        self.client_key = new_key(keys / "client")
        self.host_key_line = (keys / "host.pub").read_text().strip()
        shutil.copy(keys / "client.pub", keys / "authorized_keys")
        (keys / "authorized_keys").chmod(0o600)
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\nPidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n"
            "MaxStartups 50\nLogLevel VERBOSE\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.user = pwd.getpwuid(os.getuid()).pw_name

    def start(self) -> None:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(exist_ok=True)  # the privilege-separation directory sshd insists on as root
        log = (self.root / "sshd.log").open("ab")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the server and every session it forked: transfers in flight break off."""
        if self.process is None:
            return
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def kill_on(self, folder: Path, *, event: str) -> Watcher:
        """SIGKILL the server the moment a file appears in ``folder`` (a separate process blocked on inotify, so
        the kill lands within a scheduler tick of the event, whatever this process is busy with): ``event`` is
        ``"upload"`` (a hidden ``.part`` file is created: an upload has begun) or ``"download"`` (a file is renamed
        into place: one download has finished and the next is under way)."""
        return Watcher(self, folder, event)

    def folder(self, name: str) -> Path:
        path = self.files / name
        path.mkdir(parents=True, exist_ok=True)
        return path


WATCH = """
import ctypes, json, os, signal, struct, sys
from tests.sshd import descendants
folder, pid, event = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def tree(top):
    # the children lists the kernel keeps (a few reads), not a scan of /proc: the kill must come fast
    if not os.path.exists(f"/proc/{top}/task/{top}/children"):
        return descendants(top)
    out, todo = [], [top]
    while todo:
        here = todo.pop()
        try:
            with open(f"/proc/{here}/task/{here}/children") as listed:
                kids = [int(p) for p in listed.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
mask = 0x100 if event == "upload" else 0x80  # IN_CREATE / IN_MOVED_TO
if fd < 0 or libc.inotify_add_watch(fd, folder.encode(), mask) < 0:
    sys.exit("inotify: " + os.strerror(ctypes.get_errno()))
print("watching", flush=True)
while True:
    data, at = os.read(fd, 65536), 0
    while at < len(data):
        _, _, _, size = struct.unpack_from("iIII", data, at)
        name = data[at + 16 : at + 16 + size].rstrip(b"\\0").decode()
        at += 16 + size
        if (event == "upload" and name.endswith(".part")) or (event == "download" and not name.startswith(".")):
            for victim in [pid, *tree(pid)]:
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            print(json.dumps({"on": name, "folder": sorted(os.listdir(folder))}), flush=True)
            sys.exit(0)
"""


class Watcher:
    """The process that kills the server on a folder event (``Sshd.kill_on``); ``result()`` says which file set it
    off and what the folder held at that moment."""

    def __init__(self, server: Sshd, folder: Path, event: str) -> None:
        assert server.process is not None, "the server is not running"
        self.server, self.event = server, event
        folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", WATCH, str(folder), str(server.process.pid), event],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "watching"

    def result(self, timeout: float = 30) -> dict:
        """What the watcher saw when it killed the server (it must have); the server is reaped."""
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise AssertionError(f"the server was not killed: no {self.event} event within {timeout} s") from None
        self.server.kill()  # already dead: reaps it and anything left
        return json.loads(out)

    def cancel(self) -> None:
        """Stop the watcher if it is still waiting (a test that failed before its event)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(name="sshd")
def sshd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A running sshd. On a developer machine without OpenSSH's server the SFTP tests skip, saying what to install;
    where BACKOFFICE_TEST_REQUIRE_SSHD is set (CI, which installs it) a missing server is a failure instead."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        missing = "OpenSSH's server is not installed (apt-get install openssh-server): the SFTP tests need a real sshd"
        if os.environ.get("BACKOFFICE_TEST_REQUIRE_SSHD", "").lower() in ("1", "true", "yes"):
            pytest.fail(missing)
        pytest.skip(missing)
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    try:
        yield server
    finally:
        server.kill()
