"""The simulator does what gpuc's rollout needs from vCenter, read back with pyVmomi."""

from __future__ import annotations

import pytest
from pyVmomi import vim, vmodl

import harness
from harness import find, wait_task, wait_until

A1 = "esx-a1.lab.example"
A2 = "esx-a2.lab.example"
B1 = "esx-b1.lab.example"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_reports_api_7_or_later(si):
    about = si.RetrieveContent().about
    assert about.apiType == "VirtualCenter"
    assert version_tuple(about.apiVersion) >= (7, 0)


def test_inventory_follows_the_seed(si, seed):
    for host_seed in seed["hosts"]:
        host = find(si, vim.HostSystem, host_seed["name"])
        assert host.parent.name == host_seed["cluster"]
        assert host.runtime.connectionState == "connected"
        assert host.capability.rebootSupported
    for vm_seed in seed["vms"]:
        vm = find(si, vim.VirtualMachine, vm_seed["name"])
        assert vm.runtime.host.name == vm_seed["host"]
        assert vm.config.hardware.memoryMB == vm_seed["memory_mb"]
        assert vm.runtime.powerState == "poweredOn"
    datacenter = si.RetrieveContent().rootFolder.childEntity[0]
    assert datacenter.name == seed["datacenter"]


def test_nvidia_devices_and_vgpu_types_are_seeded(si, seed):
    for host_seed in seed["hosts"]:
        host = find(si, vim.HostSystem, host_seed["name"])
        devices = {d.id: d for d in harness.nvidia_devices(host)}
        assert sorted(devices) == sorted(g["pci"] for g in host_seed["gpus"])
        for gpu in host_seed["gpus"]:
            assert devices[gpu["pci"]].deviceId & 0xFFFF == int(gpu["device_id"], 16)
            assert devices[gpu["pci"]].vendorName == "NVIDIA Corporation"
        offered = [c.vgpu for c in host.config.sharedGpuCapabilities]
        wanted = list(dict.fromkeys(p for g in host_seed["gpus"] for p in g["profiles"]))
        assert offered == wanted
        assert list(host.config.sharedPassthruGpuTypes) == wanted
        capable = sorted(p.id for p in host.config.pciPassthruInfo if p.passthruCapable)
        assert capable == sorted(devices)


def test_graphics_config_update_sticks(si):
    host = find(si, vim.HostSystem, A1)
    manager = host.configManager.graphicsManager
    assert host.config.graphicsConfig.hostDefaultGraphicsType == "shared"
    manager.UpdateGraphicsConfig(vim.host.GraphicsConfig(
        hostDefaultGraphicsType="sharedDirect",
        sharedPassthruAssignmentPolicy="consolidation",
        deviceType=[vim.host.GraphicsConfig.DeviceType(deviceId="0000:af:00.0", graphicsType="shared")]))
    for config in (host.config.graphicsConfig, manager.graphicsConfig):
        assert config.hostDefaultGraphicsType == "sharedDirect"
        assert config.sharedPassthruAssignmentPolicy == "consolidation"
        assert [(d.deviceId, d.graphicsType) for d in config.deviceType] == [("0000:af:00.0", "shared")]
    # Another host keeps its own manager and configuration.
    assert find(si, vim.HostSystem, A2).config.graphicsConfig.hostDefaultGraphicsType == "shared"
    with pytest.raises(vmodl.fault.InvalidArgument):
        manager.UpdateGraphicsConfig(vim.host.GraphicsConfig(
            hostDefaultGraphicsType="vsga", sharedPassthruAssignmentPolicy="performance"))
    with pytest.raises(vmodl.fault.InvalidArgument):  # "direct" is a state, not a setting
        manager.UpdateGraphicsConfig(vim.host.GraphicsConfig(
            hostDefaultGraphicsType="shared", sharedPassthruAssignmentPolicy="performance",
            deviceType=[vim.host.GraphicsConfig.DeviceType(deviceId="0000:af:00.0", graphicsType="direct")]))
    manager.RefreshGraphicsManager()


def test_reboot_applies_pending_settings_and_reconnects(si):
    host = find(si, vim.HostSystem, A1)
    host.configManager.pciPassthruSystem.UpdatePassthruConfig(
        [vim.host.PciPassthruConfig(id="0000:af:00.0", passthruEnabled=True)])
    host.configManager.graphicsManager.UpdateGraphicsConfig(vim.host.GraphicsConfig(
        hostDefaultGraphicsType="sharedDirect", sharedPassthruAssignmentPolicy="performance"))
    info = {p.id: p for p in host.config.pciPassthruInfo}
    assert info["0000:af:00.0"].passthruEnabled and not info["0000:af:00.0"].passthruActive
    assert not info["0000:3b:00.0"].passthruEnabled

    with pytest.raises(vim.fault.InvalidState):  # not in maintenance mode and not forced
        wait_task(host.RebootHost_Task(force=False))
    wait_task(host.EnterMaintenanceMode_Task(timeout=0))
    booted = host.runtime.bootTime
    wait_task(host.RebootHost_Task(force=False))
    assert host.runtime.connectionState == "notResponding"
    assert wait_until(lambda: host.runtime.connectionState == "connected", timeout=15)
    assert host.runtime.bootTime > booted

    info = {p.id: p for p in host.config.pciPassthruInfo}
    assert info["0000:af:00.0"].passthruActive
    assert not info["0000:3b:00.0"].passthruActive
    active = {g.pciId: g.graphicsType for g in host.config.graphicsInfo}
    assert active == {"0000:3b:00.0": "sharedDirect", "0000:af:00.0": "direct"}
    wait_task(host.ExitMaintenanceMode_Task(timeout=0))
    assert not host.runtime.inMaintenanceMode


def test_passthrough_refuses_devices_that_are_not_capable(si):
    host = find(si, vim.HostSystem, B1)
    not_capable = next(p.id for p in host.config.pciPassthruInfo if not p.passthruCapable)
    with pytest.raises(vmodl.fault.InvalidArgument):
        host.configManager.pciPassthruSystem.UpdatePassthruConfig(
            [vim.host.PciPassthruConfig(id=not_capable, passthruEnabled=True)])
    host.configManager.pciPassthruSystem.Refresh()


def reconfigure(vm: vim.VirtualMachine, spec: vim.vm.ConfigSpec) -> None:
    if vm.runtime.powerState == "poweredOn":
        wait_task(vm.PowerOffVM_Task())
    wait_task(vm.ReconfigVM_Task(spec=spec))


def test_vgpu_backing_reads_back(si):
    vm = find(si, vim.VirtualMachine, "vm-train")
    device = vim.vm.device.VirtualPCIPassthrough(
        backing=vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo(vgpu="nvidia_a40-8q"))
    reconfigure(vm, vim.vm.ConfigSpec(deviceChange=[
        vim.vm.device.VirtualDeviceSpec(operation="add", device=device)]))
    vgpus = [d.backing.vgpu for d in vm.config.hardware.device
             if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo)]
    assert vgpus == ["nvidia_a40-8q"]


def test_passthrough_device_backing_reads_back(si):
    vm = find(si, vim.VirtualMachine, "vm-infer")
    backing = vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo(
        id="0000:17:00.0", deviceId="2236", systemId="sim-system", vendorId=0x10DE, deviceName="NVIDIA A10")
    reconfigure(vm, vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(
        operation="add", device=vim.vm.device.VirtualPCIPassthrough(backing=backing))]))
    found = [d.backing for d in vm.config.hardware.device
             if isinstance(d.backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo)]
    assert [(b.id, b.deviceId, b.vendorId) for b in found] == [("0000:17:00.0", "2236", 0x10DE)]


def test_extra_config_firmware_and_reservation_read_back(si):
    vm = find(si, vim.VirtualMachine, "vm-vdi-1")
    memory = vm.config.hardware.memoryMB
    reconfigure(vm, vim.vm.ConfigSpec(
        firmware="efi",
        memoryReservationLockedToMax=True,
        memoryAllocation=vim.ResourceAllocationInfo(reservation=memory),
        extraConfig=[vim.option.OptionValue(key="pciPassthru.use64bitMMIO", value="TRUE"),
                     vim.option.OptionValue(key="pciPassthru.64bitMMIOSizeGB", value="128")]))
    assert vm.config.firmware == "efi"
    assert vm.config.memoryReservationLockedToMax
    assert vm.config.memoryAllocation.reservation == memory
    extra = {o.key: o.value for o in vm.config.extraConfig}
    assert extra["pciPassthru.use64bitMMIO"] == "TRUE"
    assert extra["pciPassthru.64bitMMIOSizeGB"] == "128"
    wait_task(vm.PowerOnVM_Task())
    assert vm.runtime.powerState == "poweredOn"


def test_a_host_seeded_to_fail_fails_its_step(simulator_binary, seed):
    by_name = {h["name"]: h for h in seed["hosts"]}
    by_name[A2]["fail"] = "reboot"
    by_name[B1]["fail"] = "maintenance_mode"
    with harness.Simulator(simulator_binary, seed) as sim:
        si = sim.connect()
        try:
            failing = find(si, vim.HostSystem, A2)
            wait_task(failing.EnterMaintenanceMode_Task(timeout=0))
            with pytest.raises(vmodl.fault.SystemError):
                wait_task(failing.RebootHost_Task(force=False))
            assert failing.runtime.connectionState == "connected"
            with pytest.raises(vim.fault.MethodDisabled):
                find(si, vim.HostSystem, B1).EnterMaintenanceMode_Task(timeout=0)
            # The other hosts are untouched by the injected failures.
            healthy = find(si, vim.HostSystem, A1)
            wait_task(healthy.EnterMaintenanceMode_Task(timeout=0))
            wait_task(healthy.RebootHost_Task(force=False))
            assert wait_until(lambda: healthy.runtime.connectionState == "connected", timeout=15)
        finally:
            harness.Disconnect(si)


def test_simulator_stops(simulator_binary, seed):
    sim = harness.Simulator(simulator_binary, seed)
    sim.start()
    process = sim.process
    sim.stop()
    assert process is not None and process.returncode is not None
    with pytest.raises(OSError):
        sim.connect()

