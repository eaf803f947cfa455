"""Build gpuc's vCenter simulator (tests/vcsim/main.go), run it on a free local port with a seed,
and talk to it with pyVmomi. Used by test_harness.py and by any test that needs a vCenter.

The simulator is built offline in GOPATH mode against Debian's golang-github-vmware-govmomi-dev
(/usr/share/gocode), with `-overlay` adding host_reboot.go to govmomi's simulator package.
"""

from __future__ import annotations

import getpass
import json
import os
import select
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

HERE = Path(__file__).resolve().parent
EXAMPLE_SEED = HERE / "seed-example.json"
GOPATH = Path(os.environ.get("GPUC_GOCODE", "/usr/share/gocode"))
SIMULATOR_PACKAGE = GOPATH / "src/github.com/vmware/govmomi/simulator"
# Any non-empty user and password log in; these are what the simulator prints in its URL.
USERNAME = "user"
PASSWORD = "pass"
READY_PREFIX = "GPUC_VCSIM_URL="


def build(out_dir: Path) -> Path:
    """Compile the simulator into out_dir and return the binary's path."""
    if not SIMULATOR_PACKAGE.is_dir():
        raise RuntimeError(f"{SIMULATOR_PACKAGE} is missing: apt-get install golang-github-vmware-govmomi-dev")
    out_dir.mkdir(parents=True, exist_ok=True)
    overlay = out_dir / "overlay.json"
    overlay.write_text(json.dumps({"Replace": {
        str(SIMULATOR_PACKAGE / "zz_gpuc_host_reboot.go"): str(HERE / "_overlay/simulator/host_reboot.go"),
    }}))
    binary = out_dir / "gpuc-vcsim"
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(GOPATH), GOPROXY="off", GOFLAGS="")
    subprocess.run(["go", "build", "-overlay", str(overlay), "-o", str(binary), "."],
                   cwd=HERE, env=env, check=True)
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_seed(path: Path = EXAMPLE_SEED) -> dict[str, Any]:
    return json.loads(path.read_text())


class Simulator:
    """One running simulator process; a context manager that always stops it."""

    def __init__(self, binary: Path, seed: dict[str, Any], reboot_downtime: str = "1s"):
        self.binary = binary
        self.seed = seed
        self.reboot_downtime = reboot_downtime
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self._seed_file: Path | None = None
        self._log: Any = None

    def __enter__(self) -> "Simulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        fd, name = tempfile.mkstemp(prefix="gpuc-vcsim-seed-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(self.seed, f)
        self._seed_file = Path(name)
        self.port = free_port()
        self._log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [str(self.binary), "-seed", name, "-port", str(self.port),
             "-reboot-downtime", self.reboot_downtime],
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        # The simulator prints its URL once it serves; do not wait for it forever.
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith(READY_PREFIX):
            self._log.seek(0)
            raise RuntimeError(f"simulator did not start: {line!r} {self._log.read()}")
        while time.monotonic() < deadline:
            try:
                Disconnect(self.connect())
                return
            except (OSError, vim.fault.InvalidLogin):
                time.sleep(0.2)
        raise RuntimeError("simulator did not answer a login in time")

    def stop(self) -> None:
        """Stop the simulator; raise if it had died before, with the end of its log."""
        crashed = None
        if self.process is not None:
            if self.process.poll() is not None:
                crashed = self.process.returncode
            else:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        log = ""
        if self._log is not None:
            self._log.seek(0)
            log = self._log.read()
            self._log.close()
            self._log = None
        if self._seed_file is not None:
            self._seed_file.unlink(missing_ok=True)
            self._seed_file = None
        if crashed is not None:
            raise RuntimeError(f"the simulator exited with {crashed} while in use:\n{log[-4000:]}")

    def connect(self) -> vim.ServiceInstance:
        return SmartConnect(host="127.0.0.1", port=self.port, user=USERNAME, pwd=PASSWORD,
                            disableSslCertValidation=True)

    def connection_vars(self) -> dict[str, Any]:
        """The connection options community.vmware and vmware.vmware modules take."""
        return {"hostname": "127.0.0.1", "port": self.port, "username": USERNAME,
                "password": PASSWORD, "validate_certs": False,
                "datacenter": self.seed.get("datacenter", "DC0")}


def find(si: vim.ServiceInstance, kind: type, name: str) -> Any:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    try:
        for obj in view.view:
            if obj.name == name:
                return obj
    finally:
        view.Destroy()
    raise LookupError(f"no {kind.__name__} named {name}")


def wait_task(task: vim.Task, timeout: float = 30.0) -> Any:
    """Wait for a task; raise its fault if it fails."""
    deadline = time.monotonic() + timeout
    while task.info.state not in (vim.TaskInfo.State.success, vim.TaskInfo.State.error):
        if time.monotonic() > deadline:
            raise TimeoutError(f"task {task.info.name} still {task.info.state}")
        time.sleep(0.05)
    if task.info.state == vim.TaskInfo.State.error:
        raise task.info.error
    return task.info.result


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def nvidia_devices(host: vim.HostSystem) -> Iterable[vim.host.PciDevice]:
    return [d for d in host.hardware.pciDevice if d.vendorId & 0xFFFF == 0x10DE]


class SshServer:
    """An sshd of its own on a free localhost port, as the current user, so that a playbook
    reaches "an ESXi host" over real SSH: host key, client key and configuration are generated
    in `directory`; only the client key logs in. The remote shell's PATH is `path` (sshd's
    SetEnv), which is how the CI stubs for esxcli, nvidia-smi and reboot are found there, as
    ESXi's own commands are on a real host's PATH. A context manager that always stops it."""

    SSHD = Path("/usr/sbin/sshd")

    def __init__(self, directory: Path, path: str):
        self.directory = directory
        self.path = path
        self.user = getpass.getuser()
        self.port = 0
        self.client_key = directory / "client_key"
        self.log = directory / "sshd.log"
        # Where clients keep their shared connections (Ansible: ANSIBLE_SSH_CONTROL_PATH_DIR),
        # so that stop() can close them rather than leave them for ControlPersist to time out.
        self.control_dir = directory / "control"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "SshServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        if not self.SSHD.exists():
            raise RuntimeError(f"{self.SSHD} is missing: apt-get install openssh-server")
        self.control_dir.mkdir(parents=True, exist_ok=True)
        host_key = self.directory / "host_key"
        for key in (host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gpuc-vcsim", "-f", str(key)],
                           check=True)
        authorized = self.directory / "authorized_keys"
        authorized.write_text(self.client_key.with_suffix(".pub").read_text())
        config = self.directory / "sshd_config"
        config.write_text("\n".join([
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {authorized}",
            f"AllowUsers {self.user}",
            "PidFile none",
            "UsePAM no",
            # The key files are in a temporary directory, not in the user's ~/.ssh.
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            f"SetEnv PATH={self.path}",
            # Ansible copies the runbook scripts with SFTP.
            "Subsystem sftp internal-sftp",
            "",
        ]))
        if os.geteuid() == 0:
            # sshd started as root confines its pre-authentication child here; Debian's ssh
            # service creates the directory when it starts, which a CI container never did.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen([str(self.SSHD), "-D", "-f", str(config), "-p", str(self.port),
                                         "-E", str(self.log)])
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def ssh_command(self, *remote: str) -> list[str]:
        return ["ssh", "-i", str(self.client_key), "-p", str(self.port), *self.client_options(),
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"{self.user}@127.0.0.1", *remote]

    @staticmethod
    def client_options() -> list[str]:
        """This server's host key is new every run: the client neither checks nor records it."""
        return ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]

    def _wait_ready(self, timeout: float) -> None:
        """Until a login with the client key runs a command (the port may open a moment earlier)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        refused = ""
        while time.monotonic() < deadline and self.process.poll() is None:
            attempt = subprocess.run(self.ssh_command("true"), capture_output=True, text=True, timeout=timeout)
            if attempt.returncode == 0:
                return
            refused = attempt.stderr
            time.sleep(0.2)
        log = self.log.read_text() if self.log.exists() else ""
        raise RuntimeError(f"sshd did not accept a login: {refused}\n{log[-4000:]}")

    def stop(self) -> None:
        for socket_path in self.control_dir.glob("*"):
            subprocess.run(["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "127.0.0.1"],
                           capture_output=True, timeout=30)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
