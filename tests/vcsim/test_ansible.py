"""The Ansible rollout gpuc emits, end to end against the simulator.

gpuc builds `fleet.gpu`; the simulator is seeded from that spec (its hosts, clusters, GPUs with
the catalog's PCI device ids and vGPU types, its VMs); the EMITTED playbook (`out/ansible/`) runs
against it; pyVmomi reads the simulator back and the state must equal the spec. The host plays'
runbook phases reach "the ESXi hosts" over real SSH: an sshd of the test's own on localhost
(harness.SshServer) whose shell finds the CI stubs for esxcli, nvidia-smi and friends
(`.ci/stubs`, as `.ci/runbooks` uses them) on its PATH; the stubs' reboot also reboots the host
in the simulator, as a real ESXi reboot would be seen by vCenter. The guest play needs a guest
OS with the NVIDIA driver, which the simulator has not: it is skipped (`--skip-tags guests`) and
only passes --syntax-check and ansible-lint (test_lint.py).
gpuc's own module (`library/gpuc_vm_pci_passthrough.py`) is also run on its own, from the build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

import harness
from harness import find, wait_task

REPO = harness.HERE.parent.parent
SPEC = harness.HERE / "fleet.gpu"
STUBS = REPO / ".ci/stubs"
BIN = Path(sys.executable).parent
LARGE_BAR = "pciPassthru.use64bitMMIO", "pciPassthru.64bitMMIOSizeGB"


def gpuc(*args: str) -> subprocess.CompletedProcess:
    binary = Path(os.environ.get("GPUC", REPO / "target/debug/gpuc"))
    if not binary.exists():
        pytest.fail(f"no gpuc at {binary}: run `cargo build` (or .ci/vcsim, which does)")
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of `gpuc build fleet.gpu`."""
    out = tmp_path_factory.mktemp("gpuc") / "out"
    completed = gpuc("build", str(SPEC), "-o", str(out))
    assert completed.returncode == 0, completed.stderr
    return out


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """What fleet.gpu says, read from the spec text and from gpuc's derived facts per VM."""
    text = SPEC.read_text()
    hosts = {}
    for name, body in re.findall(r"^host (\S+) \{\n(.*?)^\}", text, re.S | re.M):
        address = re.search(r'address "([^"]+)"', body)
        cluster = re.search(r'cluster "([^"]+)"', body)
        gpus = [dict(zip(("name", "model", "pci", "use"), g))
                for g in re.findall(r"gpu (\S+)\s+\{ model (\S+)\s+pci (\S+)\s+use (\S+) \}", body)]
        hosts[name] = {"address": address.group(1) if address else name,
                       "cluster": cluster.group(1) if cluster else None, "gpus": gpus}
    facts = json.loads(gpuc("check", "--format", "json", str(SPEC)).stdout)
    return {"hosts": hosts, "vms": {vm["name"]: vm for vm in facts["vms"]}}


def board(model: str) -> dict[str, Any]:
    return json.loads(gpuc("catalog", "--board", model, "--format", "json").stdout)["boards"][0]


@pytest.fixture
def seed(spec: dict[str, Any]) -> dict[str, Any]:
    """The simulator's inventory, from the spec: hosts as vCenter names them, their GPUs as the
    catalog describes the boards, every VM (also those without a GPU) powered on."""
    hosts = []
    for host in spec["hosts"].values():
        gpus = []
        for gpu in host["gpus"]:
            b = board(gpu["model"])
            gpus.append({"pci": gpu["pci"], "device_id": "0x" + b["device_id"], "name": b["name"],
                         "memory_mb": b["framebuffer_mib"], "profiles": [t["profile"] for t in b["vgpu_types"]]})
        hosts.append({"name": host["address"], "gpus": gpus, **({"cluster": host["cluster"]} if host["cluster"] else {})})
    vms = [{"name": name, "host": spec["hosts"][vm["host"]]["address"], "memory_mb": vm["memory_mb"]}
           for name, vm in spec["vms"].items()]
    return {"datacenter": "DC-GPU", "hosts": hosts, "vms": vms}


@pytest.fixture
def host_datastores(built: Path):
    """The runbooks install the driver from the spec's datastore path: a stand-in file there, as
    .ci/runbooks does; removed afterwards."""
    created = []
    for script in sorted((built / "hosts").glob("*/*.sh")):
        for path in re.findall(r"vib install -[vd] '([^']+)'", script.read_text()):
            vib = Path(path)
            if not vib.exists():
                vib.parent.mkdir(parents=True, exist_ok=True)
                vib.touch()
                created.append(vib)
    yield
    for vib in created:
        vib.unlink()


def passthrough_ids(vm: vim.VirtualMachine) -> list[str]:
    return sorted(d.backing.id for d in vm.config.hardware.device
                  if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo))


def vgpu_profiles(vm: vim.VirtualMachine) -> list[str]:
    return [d.backing.vgpu for d in vm.config.hardware.device
            if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo)]


@pytest.fixture(scope="session")
def esxi_ssh(tmp_path_factory: pytest.TempPathFactory):
    """The SSH server every host's runbook phases run through. Its shell's PATH has the CI stubs
    and, before them, a `reboot` that runs the stubs' reboot and then reboots the host the phase
    belongs to in the simulator."""
    directory = tmp_path_factory.mktemp("sshd")
    reboot_bin = directory / "bin"
    reboot_bin.mkdir()
    reboot = reboot_bin / "reboot"
    reboot.write_text(f'#!/bin/sh\n"{STUBS}/reboot" && exec "{sys.executable}" "{harness.HERE / "reboot_host.py"}"\n')
    reboot.chmod(0o755)
    with harness.SshServer(directory, f"{reboot_bin}:{STUBS}:{os.environ['PATH']}") as server:
        yield server


def overrides(sim: harness.Simulator, spec: dict[str, Any], built: Path, ssh: harness.SshServer, work: Path) -> Path:
    """A second inventory for this machine: each host is reached over SSH on localhost, and its
    runbook phases get their own stub state and keep their finished-phase records in a scratch
    folder."""
    hosts = {}
    for name, host in spec["hosts"].items():
        state = work / "state" / name
        state.mkdir(parents=True, exist_ok=True)
        (state / "hostname").write_text(name + "\n")
        pcis = sorted({p for s in (built / "hosts" / name).glob("*.sh")
                       for p in re.findall(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", s.read_text())})
        (state / "gpus").write_text("".join(p + "\n" for p in pcis))
        url = f"https://{harness.USERNAME}:{harness.PASSWORD}@127.0.0.1:{sim.port}/sdk"
        hosts[name] = {
            "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": ssh.port,
            "ansible_user": ssh.user, "ansible_ssh_private_key_file": str(ssh.client_key),
            "ansible_ssh_common_args": " ".join(ssh.client_options()),
            "runbook_folder": str(work / "datastore" / name),
            "runbook_environment": {
                "GPUC_STATE": str(state), "GPUC_LOG": str(work / f"{name}.log"),
                "GPUC_VCSIM_URL": url, "GPUC_VCSIM_HOST": host["address"],
            },
        }
    path = work / "this-machine.yml"
    path.write_text(json.dumps({"all": {"hosts": hosts}}))
    return path


def run_playbook(sim: harness.Simulator, spec: dict[str, Any], built: Path, ssh: harness.SshServer, work: Path,
                 *options: str) -> tuple[int, dict[str, Any], float]:
    """Runs the emitted playbook; returns its exit code, the json callback's report and seconds."""
    connection = sim.connection_vars()
    extra = {
        "vcenter_hostname": connection["hostname"], "vcenter_port": connection["port"],
        "vcenter_username": connection["username"], "vcenter_password": connection["password"],
        "vcenter_datacenter": connection["datacenter"], "vcenter_validate_certs": False,
        "ansible_python_interpreter": sys.executable,
        "reboot_wait_delay": 1, "reboot_wait_retries": 30,
    }
    extra_file = work / "extra-vars.json"
    extra_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(ssh.control_dir))
    playbook = built / "ansible"
    command = [str(BIN / "ansible-playbook"), "-i", str(playbook / "inventory.yml"),
               "-i", str(overrides(sim, spec, built, ssh, work)), "-e", f"@{extra_file}", "--skip-tags", "guests",
               *options, str(playbook / "site.yml")]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    seconds = time.monotonic() - started
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible-playbook printed no JSON report:\n{completed.stdout}\n{completed.stderr}")
    return completed.returncode, report, seconds


def failed_tasks(report: dict[str, Any]) -> list[str]:
    return [f"{task['task']['name']} on {host}: {result.get('msg')} {result.get('stderr', '')}"
            for play in report["plays"] for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("failed") or result.get("unreachable")]


def seconds_per_host(report: dict[str, Any]) -> dict[str, float]:
    """Wall time of each host's tasks in the host plays (one host per batch)."""
    def moment(text: str) -> float:
        return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + text[19:].rstrip("Z"))
    totals: dict[str, float] = {}
    for play in report["plays"]:
        if "hosts" not in play["play"].get("tags", []) and not play["play"]["name"].startswith("GPU hosts"):
            continue
        for task in play["tasks"]:
            duration = task["task"].get("duration") or {}
            if "start" in duration and "end" in duration:
                for host in task["hosts"]:
                    totals[host] = totals.get(host, 0.0) + moment(duration["end"]) - moment(duration["start"])
    return totals


def expected_hosts(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the spec asks of each host as vCenter shows it."""
    want = {}
    for host in spec["hosts"].values():
        vgpu = any(g["use"] == "vgpu" for g in host["gpus"])
        want[host["address"]] = {
            # A host with vGPU GPUs: Shared Direct, spec's default policy; others as vCenter leaves them.
            "graphics": ("sharedDirect" if vgpu else "shared", "performance"),
            "passthrough": sorted(g["pci"] for g in host["gpus"] if g["use"] == "passthrough"),
        }
    return want


def assert_host_as_spec(host: vim.HostSystem, want: dict[str, Any]) -> None:
    config = host.config.graphicsConfig
    assert (config.hostDefaultGraphicsType, config.sharedPassthruAssignmentPolicy) == want["graphics"], host.name
    enabled = sorted(p.id for p in host.config.pciPassthruInfo if p.passthruEnabled)
    active = sorted(p.id for p in host.config.pciPassthruInfo if p.passthruActive)
    assert enabled == active == want["passthrough"], host.name
    assert host.runtime.connectionState == "connected" and not host.runtime.inMaintenanceMode, host.name


def assert_vm_as_spec(vm: vim.VirtualMachine, facts: dict[str, Any], spec: dict[str, Any]) -> None:
    gpus = {f"{h}.{g['name']}": g["pci"] for h, host in spec["hosts"].items() for g in host["gpus"]}
    assert vgpu_profiles(vm) == [v["type"] for v in facts["vgpus"]], vm.name
    assert passthrough_ids(vm) == sorted(gpus[label] for label in facts["passthrough"]), vm.name
    extra = {o.key: o.value for o in vm.config.extraConfig if o.key.startswith("pciPassthru.")}
    if facts["use_64bit_mmio"]:
        assert extra == dict(zip(LARGE_BAR, ("TRUE", str(facts["mmio_size_gb"])))), vm.name
    else:
        assert extra == {}, vm.name
    if facts["firmware"]:
        assert vm.config.firmware == facts["firmware"], vm.name
    # sched.mem.min = memory with sched.mem.pin: all guest memory reserved, locked to the size.
    assert bool(vm.config.memoryReservationLockedToMax) == (facts["reservation_mb"] == facts["memory_mb"]), vm.name
    assert vm.runtime.powerState == "poweredOn", vm.name


def assert_untouched(si: vim.ServiceInstance, host_names: list[str], vm_names: list[str]) -> None:
    for name in host_names:
        host = find(si, vim.HostSystem, name)
        assert host.config.graphicsConfig.hostDefaultGraphicsType == "shared", name
        assert not [p.id for p in host.config.pciPassthruInfo if p.passthruEnabled], name
        assert not host.runtime.inMaintenanceMode, name
    for name in vm_names:
        vm = find(si, vim.VirtualMachine, name)
        assert vm.runtime.powerState == "poweredOn" and passthrough_ids(vm) == [] and vgpu_profiles(vm) == [], name
        assert vm.config.firmware != "efi" and not vm.config.memoryReservationLockedToMax, name


def gpu_vms(spec: dict[str, Any]) -> list[str]:
    return [name for name, vm in spec["vms"].items() if vm["vgpus"] or vm["passthrough"]]


def test_rollout_reaches_the_spec_and_a_second_run_changes_nothing(simulator_binary, seed, spec, built, host_datastores,
                                                                  esxi_ssh, tmp_path):
    with harness.Simulator(simulator_binary, seed) as sim:
        si = sim.connect()
        try:
            rc, report, _ = run_playbook(sim, spec, built, esxi_ssh, tmp_path, "--check")
            assert rc == 0, failed_tasks(report)
            assert_untouched(si, list(expected_hosts(spec)), list(spec["vms"]))

            rc, report, seconds = run_playbook(sim, spec, built, esxi_ssh, tmp_path)
            assert rc == 0, failed_tasks(report)
            per_host = seconds_per_host(report)
            for name, want in expected_hosts(spec).items():
                assert_host_as_spec(find(si, vim.HostSystem, name), want)
            for name, facts in spec["vms"].items():
                assert_vm_as_spec(find(si, vim.VirtualMachine, name), facts, spec)
            # Each host ran its runbook to the end: the last phase leaves maintenance mode.
            for name in spec["hosts"]:
                log = (tmp_path / f"{name}.log").read_text().splitlines()
                assert "esxcli system maintenanceMode set --enable false" in log, name
            # ... through the SSH server, as on real hosts.
            assert f"Accepted publickey for {esxi_ssh.user} from 127.0.0.1" in esxi_ssh.log.read_text()

            rc, report, _ = run_playbook(sim, spec, built, esxi_ssh, tmp_path)
            assert rc == 0, failed_tasks(report)
            assert {host: stats["changed"] for host, stats in report["stats"].items()} == \
                {host: 0 for host in report["stats"]}
        finally:
            harness.Disconnect(si)
    timings = "".join(f"rollout: {host} {s:.1f} s\n" for host, s in sorted(per_host.items()))
    timings += f"rollout: whole example ({len(spec['hosts'])} hosts, {len(gpu_vms(spec))} GPU VMs) {seconds:.1f} s\n"
    print(timings)
    if os.environ.get("GPUC_VCSIM_TIMINGS"):
        Path(os.environ["GPUC_VCSIM_TIMINGS"]).write_text(timings)


def test_a_failed_host_stops_the_rollout(simulator_binary, seed, spec, built, host_datastores, esxi_ssh, tmp_path):
    # The second host of the first cluster fails its reboot; the host in no cluster comes after.
    failing, untouched = spec["hosts"]["a2"]["address"], spec["hosts"]["b1"]["address"]
    next(h for h in seed["hosts"] if h["name"] == failing)["fail"] = "reboot"
    with harness.Simulator(simulator_binary, seed) as sim:
        rc, report, _ = run_playbook(sim, spec, built, esxi_ssh, tmp_path)
        assert rc != 0
        assert [t for t in failed_tasks(report) if "Reboot the host" in t and "a2" in t], failed_tasks(report)
        si = sim.connect()
        try:
            assert_host_as_spec(find(si, vim.HostSystem, spec["hosts"]["a1"]["address"]),
                                expected_hosts(spec)[spec["hosts"]["a1"]["address"]])
            # The failed host stays in maintenance mode for a person to look at.
            assert find(si, vim.HostSystem, failing).runtime.inMaintenanceMode
            assert_untouched(si, [untouched], list(spec["vms"]))
            assert not (tmp_path / "b1.log").exists()
        finally:
            harness.Disconnect(si)


# gpuc's PCI passthrough module on its own, as Ansible runs it, from the build's library/.

def run_module(built: Path, sim: harness.Simulator, args: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    options = sim.connection_vars()
    options.update(args)
    options["_ansible_check_mode"] = check_mode
    module = built / "ansible/library/gpuc_vm_pci_passthrough.py"
    completed = subprocess.run([sys.executable, str(module)], input=json.dumps({"ANSIBLE_MODULE_ARGS": options}),
                               capture_output=True, text=True, timeout=120)
    return json.loads(completed.stdout)


def test_module_documentation_parses(built):
    library = built / "ansible/library"
    completed = subprocess.run([str(BIN / "ansible-doc"), "--json", "-M", str(library), "gpuc_vm_pci_passthrough"],
                               capture_output=True, text=True, check=True, timeout=120)
    doc = json.loads(completed.stdout)["gpuc_vm_pci_passthrough"]
    options = doc["doc"]["options"]
    for connection in ("hostname", "username", "password", "port", "validate_certs", "datacenter"):
        assert connection in options
    assert options["devices"]["suboptions"]["pci"]["required"]
    assert "gpuc_vm_pci_passthrough:" in doc["examples"]
    assert set(doc["return"]) == {"devices", "added", "removed"}


def test_module_adds_idempotently_in_check_mode_and_removes(simulator_binary, built):
    with harness.Simulator(simulator_binary, harness.load_seed()) as sim:
        si = sim.connect()
        try:
            vm_args = {"name": "vm-infer", "devices": [{"pci": "0000:17:00.0"}]}
            refused = run_module(built, sim, vm_args)
            assert refused.get("failed") and "not active" in refused["msg"]

            host = find(si, vim.HostSystem, "esx-b1.lab.example")
            host.configManager.pciPassthruSystem.UpdatePassthruConfig(
                [vim.host.PciPassthruConfig(id="0000:17:00.0", passthruEnabled=True)])
            wait_task(host.RebootHost_Task(force=True))
            assert harness.wait_until(lambda: host.runtime.connectionState == "connected", timeout=15)
            vm = find(si, vim.VirtualMachine, "vm-infer")
            powered_on = run_module(built, sim, vm_args)
            assert powered_on.get("failed") and "powered off" in powered_on["msg"]

            wait_task(vm.PowerOffVM_Task())
            planned = run_module(built, sim, vm_args, check_mode=True)
            assert planned["changed"] and planned["added"] == ["0000:17:00.0"]
            assert passthrough_ids(vm) == []

            added = run_module(built, sim, vm_args)
            assert added["changed"] and added["added"] == ["0000:17:00.0"]
            assert passthrough_ids(vm) == ["0000:17:00.0"]
            backing = next(d.backing for d in vm.config.hardware.device
                           if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo))
            assert (backing.deviceId, backing.vendorId & 0xFFFF) == ("2236", 0x10DE)
            assert backing.systemId == host.hardware.systemInfo.uuid
            assert vm.config.memoryReservationLockedToMax

            again = run_module(built, sim, vm_args)
            assert not again["changed"] and again["added"] == [] and passthrough_ids(vm) == ["0000:17:00.0"]
            removed = run_module(built, sim, {**vm_args, "state": "absent"})
            assert removed["changed"] and removed["removed"] == ["0000:17:00.0"]
            assert passthrough_ids(vm) == []
            assert not run_module(built, sim, {**vm_args, "state": "absent"})["changed"]

            unknown_device = run_module(built, sim, {"name": "vm-infer", "devices": [{"pci": "0000:99:00.0"}]})
            assert unknown_device.get("failed") and "no PCI device 0000:99:00.0" in unknown_device["msg"]
            unknown_vm = run_module(built, sim, {"name": "vm-nowhere", "devices": [{"pci": "0000:17:00.0"}]})
            assert unknown_vm.get("failed") and "No virtual machine named vm-nowhere" in unknown_vm["msg"]
            no_password = run_module(built, sim, {**vm_args, "password": ""})
            assert no_password.get("failed") and "password is required" in no_password["msg"]
        finally:
            harness.Disconnect(si)
