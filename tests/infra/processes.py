"""Process, port, lock and mount helpers shared by the engines of tests/infra."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

# One lock for the whole machine: engines of concurrent test sessions (several developers,
# several checkouts) allocate host-wide resources (bridges, subnets, ports) under it.
HOST_LOCK = Path(os.environ.get("WINDFLOW_ENGINE_LOCK", "/tmp/windflow-engines.lock"))


@contextlib.contextmanager
def host_lock(timeout: float = 120.0) -> Iterator[None]:
    """Hold the machine-wide engine lock (``flock``; released if the holder dies)."""
    fd = os.open(HOST_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def system_path() -> str:
    """PATH plus the sbin directories daemons and their helpers live in."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    extra = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in parts]
    return os.pathsep.join([*parts, *extra])


def free_port(host: str = "127.0.0.1", *, udp: bool = False) -> int:
    """A port nothing listens on right now (the kernel's choice, so rarely reused soon)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1", *, udp: bool = False) -> bool:
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def spawn(
    command: Sequence[str],
    log: Path,
    *,
    die_with_parent: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a daemon in its own session, output to ``log``.

    With ``die_with_parent`` the kernel sends it SIGTERM when this process dies (even by
    SIGKILL), so an aborted test run leaves no daemon behind. The death signal follows the
    *thread* that forked, so it is only armed from the main thread.
    """
    argv = list(command)
    setpriv = shutil.which("setpriv")
    if die_with_parent and setpriv and threading.current_thread() is threading.main_thread():
        argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
    with log.open("ab") as output:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )


def terminate(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM by PID and wait; if it does not exit, SIGKILL its process group and wait.

    The group is only signalled while its leader is alive (unreaped), so the group id cannot
    have been reused by an unrelated process.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes (PID 1 of some sandboxes never reaps).
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def processes_using(path: Path) -> list[int]:
    """PIDs of live processes whose command line mentions ``path`` (our private dirs)."""
    needle = str(path).encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_processes_using(path: Path, timeout: float = 10.0) -> None:
    """SIGKILL what is left of the processes an engine started (shims, containers' init)."""
    for pid in processes_using(path):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while processes_using(path) and time.monotonic() < deadline:
        time.sleep(0.1)


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape")


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/")
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) < 2:
                continue
            target = _unescape(fields[1])
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return found


def unmount_under(path: Path) -> None:
    """Lazily unmount everything mounted under ``path``, deepest first."""
    for _ in range(3):
        targets = sorted(set(mounts_under(path)), key=len, reverse=True)
        if not targets:
            return
        for target in targets:
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def remove_tree(path: Path) -> None:
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


def log_tail(path: Path, size: int = 3000) -> str:
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - size))
            return log.read().decode(errors="replace")
    except OSError:
        return ""
