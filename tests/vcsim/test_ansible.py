"""Ansible against the simulator: gpuc's PCI passthrough module on its own, then a rollout
playbook (tests/ansible/vcsim-rollout.yml) whose result is read back with pyVmomi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

import harness
from harness import find, wait_task

ANSIBLE_DIR = harness.HERE.parent / "ansible"
MODULE = ANSIBLE_DIR / "library/gpuc_vm_pci_passthrough.py"
PLAYBOOK = ANSIBLE_DIR / "vcsim-rollout.yml"
BIN = Path(sys.executable).parent

# What the rollout should make of the example seed's hosts and VMs.
HOSTS = {
    "esx-a1.lab.example": {"graphics": ("sharedDirect", "performance"), "passthrough": ["0000:af:00.0"]},
    "esx-a2.lab.example": {"graphics": ("sharedDirect", "consolidation"), "passthrough": []},
    "esx-b1.lab.example": {"graphics": ("sharedDirect", "performance"), "passthrough": ["0000:17:00.0"]},
}
LARGE_BAR = {"pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": "128"}
VMS = {
    "vm-train": {"vgpu": "nvidia_a40-8q", "passthrough": ["0000:af:00.0"], "advanced": LARGE_BAR},
    "vm-vdi-1": {"vgpu": "nvidia_a40-4q", "passthrough": [], "advanced": {}},
    "vm-infer": {"vgpu": None, "passthrough": ["0000:17:00.0"], "advanced": LARGE_BAR},
}


def run_module(sim: harness.Simulator, args: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """Run the module the way Ansible does, with its arguments as JSON; return its result."""
    options = sim.connection_vars()
    options.update(args)
    options["_ansible_check_mode"] = check_mode
    completed = subprocess.run([sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": options}),
                               capture_output=True, text=True, timeout=120)
    return json.loads(completed.stdout)


def activate_passthrough(si: vim.ServiceInstance, host_name: str, pci: str) -> None:
    host = find(si, vim.HostSystem, host_name)
    host.configManager.pciPassthruSystem.UpdatePassthruConfig(
        [vim.host.PciPassthruConfig(id=pci, passthruEnabled=True)])
    wait_task(host.RebootHost_Task(force=True))
    assert harness.wait_until(lambda: host.runtime.connectionState == "connected", timeout=15)


def passthrough_ids(vm: vim.VirtualMachine) -> list[str]:
    return sorted(d.backing.id for d in vm.config.hardware.device
                  if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo))


def test_module_documentation_parses():
    completed = subprocess.run([str(BIN / "ansible-doc"), "--json", "-M", str(MODULE.parent), MODULE.stem],
                               capture_output=True, text=True, check=True, timeout=120)
    doc = json.loads(completed.stdout)[MODULE.stem]
    options = doc["doc"]["options"]
    for connection in ("hostname", "username", "password", "port", "validate_certs", "datacenter"):
        assert connection in options
    assert options["devices"]["suboptions"]["pci"]["required"]
    assert "gpuc_vm_pci_passthrough:" in doc["examples"]
    assert set(doc["return"]) == {"devices", "added", "removed"}


def test_module_adds_idempotently_in_check_mode_and_removes(sim, si):
    vm_args = {"name": "vm-infer", "devices": [{"pci": "0000:17:00.0"}]}
    refused = run_module(sim, vm_args)
    assert refused.get("failed") and "not active" in refused["msg"]

    activate_passthrough(si, "esx-b1.lab.example", "0000:17:00.0")
    vm = find(si, vim.VirtualMachine, "vm-infer")
    powered_on = run_module(sim, vm_args)
    assert powered_on.get("failed") and "powered off" in powered_on["msg"]

    wait_task(vm.PowerOffVM_Task())
    planned = run_module(sim, vm_args, check_mode=True)
    assert planned["changed"] and planned["added"] == ["0000:17:00.0"]
    assert passthrough_ids(vm) == []

    added = run_module(sim, vm_args)
    assert added["changed"] and added["added"] == ["0000:17:00.0"]
    assert passthrough_ids(vm) == ["0000:17:00.0"]
    backing = next(d.backing for d in vm.config.hardware.device
                   if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo))
    host = find(si, vim.HostSystem, "esx-b1.lab.example")
    assert (backing.deviceId, backing.vendorId & 0xFFFF) == ("2236", 0x10DE)
    assert backing.systemId == host.hardware.systemInfo.uuid
    assert vm.config.memoryReservationLockedToMax
    assert added["devices"][0]["pci"] == "0000:17:00.0"

    again = run_module(sim, vm_args)
    assert not again["changed"] and again["added"] == [] and passthrough_ids(vm) == ["0000:17:00.0"]

    removed = run_module(sim, {**vm_args, "state": "absent"})
    assert removed["changed"] and removed["removed"] == ["0000:17:00.0"]
    assert passthrough_ids(vm) == []
    assert not run_module(sim, {**vm_args, "state": "absent"})["changed"]


def test_module_rejects_unknown_devices_and_vms(sim):
    unknown_device = run_module(sim, {"name": "vm-infer", "devices": [{"pci": "0000:99:00.0"}]})
    assert unknown_device.get("failed") and "no PCI device 0000:99:00.0" in unknown_device["msg"]
    unknown_vm = run_module(sim, {"name": "vm-nowhere", "devices": [{"pci": "0000:17:00.0"}]})
    assert unknown_vm.get("failed") and "No virtual machine named vm-nowhere" in unknown_vm["msg"]
    no_password = run_module(sim, {"name": "vm-infer", "devices": [{"pci": "0000:17:00.0"}], "password": ""})
    assert no_password.get("failed") and "password is required" in no_password["msg"]


def inventory(sim: harness.Simulator) -> dict[str, Any]:
    connection = sim.connection_vars()
    clusters: dict[str, dict[str, Any]] = {}
    for host in sim.seed["hosts"]:
        want = HOSTS[host["name"]]
        group = clusters.setdefault("cluster_" + host["cluster"].replace("-", "_"), {"hosts": {}})
        group["hosts"][host["name"]] = {
            "host_graphics_type": want["graphics"][0],
            "host_graphics_policy": want["graphics"][1],
            "passthrough_devices": [{"device": pci} for pci in want["passthrough"]],
        }
    vms = {}
    for name, want in VMS.items():
        host_vars: dict[str, Any] = {}
        if want["vgpu"]:
            host_vars["vm_vgpu"] = want["vgpu"]
        if want["passthrough"]:
            host_vars["vm_passthrough"] = [{"pci": pci} for pci in want["passthrough"]]
        if want["advanced"]:
            host_vars["vm_advanced_settings"] = want["advanced"]
        vms[name] = host_vars
    return {"all": {
        "vars": {
            "vcenter_hostname": connection["hostname"], "vcenter_port": connection["port"],
            "vcenter_username": connection["username"], "vcenter_password": connection["password"],
            "vcenter_validate_certs": False, "vcenter_datacenter": connection["datacenter"],
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "reboot_wait_delay": 1, "reboot_wait_retries": 30,
        },
        "children": {"esxi": {"children": clusters}, "gpu_vms": {"hosts": vms}},
    }}


def run_playbook(sim: harness.Simulator, tmp_path: Path, *options: str) -> tuple[int, dict[str, Any]]:
    """Run the rollout playbook; return its exit code and the per-host stats of the json callback."""
    inventory_file = tmp_path / "inventory.yml"
    inventory_file.write_text(json.dumps(inventory(sim)))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LIBRARY=str(ANSIBLE_DIR / "library"),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory_file), *options, str(PLAYBOOK)],
                               capture_output=True, text=True, env=env, timeout=900)
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible-playbook printed no JSON report:\n{completed.stdout}\n{completed.stderr}")
    return completed.returncode, report


def failed_tasks(report: dict[str, Any]) -> list[str]:
    return [f"{task['task']['name']} on {host}: {result.get('msg')}"
            for play in report["plays"] for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("failed")]


def assert_untouched(si: vim.ServiceInstance, host_names: list[str], vm_names: list[str]) -> None:
    for name in host_names:
        host = find(si, vim.HostSystem, name)
        assert host.config.graphicsConfig.hostDefaultGraphicsType == "shared"
        assert not [p.id for p in host.config.pciPassthruInfo if p.passthruEnabled]
    for name in vm_names:
        vm = find(si, vim.VirtualMachine, name)
        assert vm.runtime.powerState == "poweredOn" and passthrough_ids(vm) == []
        assert not [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]
        assert vm.config.firmware != "efi" and not vm.config.memoryReservationLockedToMax


def test_rollout_reaches_the_spec_and_a_second_run_changes_nothing(sim, si, tmp_path):
    rc, report = run_playbook(sim, tmp_path, "--check")
    assert rc == 0, failed_tasks(report)
    assert_untouched(si, list(HOSTS), list(VMS))

    rc, report = run_playbook(sim, tmp_path)
    assert rc == 0, failed_tasks(report)
    assert all(stats["changed"] > 0 for stats in report["stats"].values())

    for name, want in HOSTS.items():
        host = find(si, vim.HostSystem, name)
        config = host.config.graphicsConfig
        assert (config.hostDefaultGraphicsType, config.sharedPassthruAssignmentPolicy) == want["graphics"]
        enabled = sorted(p.id for p in host.config.pciPassthruInfo if p.passthruEnabled)
        active = sorted(p.id for p in host.config.pciPassthruInfo if p.passthruActive)
        assert enabled == active == want["passthrough"]
        assert host.runtime.connectionState == "connected" and not host.runtime.inMaintenanceMode
    for name, want in VMS.items():
        vm = find(si, vim.VirtualMachine, name)
        vgpus = [d.backing.vgpu for d in vm.config.hardware.device
                 if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo)]
        assert vgpus == ([want["vgpu"]] if want["vgpu"] else [])
        assert passthrough_ids(vm) == want["passthrough"]
        extra = {o.key: o.value for o in vm.config.extraConfig if o.key.startswith("pciPassthru.")}
        assert extra == want["advanced"]
        assert vm.config.firmware == "efi"
        assert vm.config.memoryReservationLockedToMax
        assert vm.runtime.powerState == "poweredOn"

    rc, report = run_playbook(sim, tmp_path)
    assert rc == 0, failed_tasks(report)
    assert {host: stats["changed"] for host, stats in report["stats"].items()} == \
        {host: 0 for host in report["stats"]}


def test_a_failed_host_stops_the_rollout(simulator_binary, seed, tmp_path):
    failing, untouched = "esx-a2.lab.example", "esx-b1.lab.example"
    next(h for h in seed["hosts"] if h["name"] == failing)["fail"] = "reboot"
    with harness.Simulator(simulator_binary, seed) as sim:
        rc, report = run_playbook(sim, tmp_path)
        assert rc != 0
        assert [t for t in failed_tasks(report) if "Reboot the host" in t and failing in t]
        si = sim.connect()
        try:
            done = find(si, vim.HostSystem, "esx-a1.lab.example")
            assert done.config.graphicsConfig.hostDefaultGraphicsType == "sharedDirect"
            # The failed host stays in maintenance mode for a person to look at.
            assert find(si, vim.HostSystem, failing).runtime.inMaintenanceMode
            assert_untouched(si, [untouched], list(VMS))
        finally:
            harness.Disconnect(si)
