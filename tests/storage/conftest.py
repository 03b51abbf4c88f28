"""Real servers for the shared-storage tests: moto's S3 server and a private OpenSSH sshd.

Both run as children of the fixture on ports of this suite's own range and are stopped after
the module. Without ``sshd`` (Debian's openssh-server; ``scripts/ensure-sshd.sh`` installs it)
the SFTP tests skip with the reason; in CI (``CI=true``) a missing sshd fails instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

S3_PORT = int(os.environ.get("SIMPUL_TEST_S3_PORT", "19201"))
SSH_PORT = int(os.environ.get("SIMPUL_TEST_SSH_PORT", "19202"))
BUCKET = "simpul-shared"

# asyncssh logs "Connection closed" at INFO from finalizers that run at interpreter exit, after
# pytest closed its capture streams ("--- Logging error ---" noise); warnings still show
logging.getLogger("asyncssh").setLevel(logging.WARNING)


def _wait_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {port} within {seconds:.0f}s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in server mode (a real HTTP S3 endpoint), with one empty bucket; its URL."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(S3_PORT)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_port(S3_PORT, proc, "moto server")
        yield f"http://127.0.0.1:{S3_PORT}"
    finally:
        _stop(proc)


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials and endpoint as an operator sets them (environment, never in the URL);
    a fresh bucket per test. Returns the bucket's URL."""
    import uuid

    import s3fs

    monkeypatch.setenv("SIMPUL_STORAGE_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("SIMPUL_STORAGE_KEY_ID", "testing-key-id")
    monkeypatch.setenv("SIMPUL_STORAGE_SECRET", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"{BUCKET}-{uuid.uuid4().hex[:8]}"
    fs = s3fs.S3FileSystem(
        key="testing-key-id", secret="testing-secret-key", endpoint_url=s3_server
    )
    fs.mkdir(bucket)
    return f"s3://{bucket}"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A private sshd (not a daemon: a child of this fixture) on SSH_PORT with a temporary
    host key and one authorized client key; the current user logs in with that key only."""
    binary = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if binary is None:
        reason = "no sshd: install Debian's openssh-server (scripts/ensure-sshd.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        pytest.skip("no ssh-keygen (openssh-client)")
    base = tmp_path_factory.mktemp("sshd")
    os.chmod(base, 0o700)
    host_key = base / "host_ed25519"
    client_key = base / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = base / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    known_hosts = base / "known_hosts"
    host_pub = host_key.with_suffix(".pub").read_text().split()
    known_hosts.write_text(f"[127.0.0.1]:{SSH_PORT} {host_pub[0]} {host_pub[1]}\n")
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {SSH_PORT}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {base / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    try:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory (as root)
    except OSError:
        pass  # not root: sshd runs unprivileged and logs in only its own user
    log = base / "sshd.log"
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stderr=log.open("wb"))
    try:
        _wait_port(SSH_PORT, proc, f"sshd (log: {log})")
        import getpass

        yield {
            "port": SSH_PORT,
            "user": getpass.getuser(),
            "client_key": client_key,
            "known_hosts": known_hosts,
        }
    finally:
        _stop(proc)
