#!/usr/bin/python
# Copyright: gpuc contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: add or remove DirectPath I/O PCI passthrough devices on a vSphere VM."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpuc_vm_pci_passthrough
short_description: Add or remove PCI passthrough (DirectPath I/O) devices on a vSphere virtual machine
description:
  - Adds or removes C(VirtualPCIPassthrough) devices with a C(DeviceBackingInfo) backing (DirectPath I/O)
    on a virtual machine through vCenter, by the PCI address of a device of the host the VM is registered on.
  - No collection has such a module (community.vmware issue 347); gpuc ships this one in the generated playbook's C(library/).
  - >-
    The device must have passthrough enabled and active on the host; C(passthruActive) means
    "enabled + rebooted" (vSphere Web Services API, HostPciPassthruInfo). Enable it with
    M(community.vmware.vmware_host_passthrough) and reboot the host. The backing's system id, vendor
    and device id are taken from the host's entry in C(QueryConfigTarget) (C(pciPassthrough)).
  - >-
    The VM must be powered off ("Prerequisites - Power off the virtual machine", VMware Host Client 7.0,
    "Add a PCI Device to a Virtual Machine"); a change to a powered-on VM fails.
  - >-
    Adding a device also sets C(memoryReservationLockedToMax): "Adding a DirectPath I/O device to a
    virtual machine sets memory reservation to the memory size of the virtual machine" (vSphere 7.0
    Networking, "Add a PCI Device to a Virtual Machine").
  - Devices are matched by PCI address; passthrough devices not listed are left alone.
version_added: "0.1.0"
author:
  - gpuc contributors
options:
  hostname:
    description: vCenter address; falls back to the E(VMWARE_HOST) environment variable.
    type: str
  username:
    description: vCenter user; falls back to E(VMWARE_USER).
    type: str
    aliases: [user, admin]
  password:
    description: Password of O(username); falls back to E(VMWARE_PASSWORD).
    type: str
    aliases: [pass, pwd]
  port:
    description: vCenter HTTPS port; falls back to E(VMWARE_PORT).
    type: int
    default: 443
  validate_certs:
    description: Check vCenter's TLS certificate; falls back to E(VMWARE_VALIDATE_CERTS).
    type: bool
    default: true
  datacenter:
    description: Datacenter that holds the VM.
    type: str
    required: true
  name:
    description: Name of the virtual machine. One of O(name) or O(moid) is required.
    type: str
  moid:
    description: Managed object id of the virtual machine (for example C(vm-42)).
    type: str
  devices:
    description: PCI passthrough devices of the VM's host.
    type: list
    elements: dict
    required: true
    suboptions:
      pci:
        description: PCI address of the device on the host, as in C(esxcli hardware pci list), for example C(0000:3b:00.0).
        type: str
        required: true
  state:
    description:
      - V(present) adds every listed device that the VM does not have yet.
      - V(absent) removes every listed device that the VM has.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports check mode; the result then says what would change.
  - Dynamic DirectPath I/O (C(DynamicBackingInfo)) is not handled.
requirements:
  - pyVmomi
"""

EXAMPLES = r"""
- name: Give vm-train both A40 GPUs of its host through DirectPath I/O
  gpuc_vm_pci_passthrough:
    hostname: "{{ vcenter_hostname }}"
    username: "{{ vcenter_username }}"
    password: "{{ vcenter_password }}"
    datacenter: DC-GPU
    name: vm-train
    devices:
      - pci: "0000:3b:00.0"
      - pci: "0000:af:00.0"
  delegate_to: localhost

- name: Take the second GPU away again
  gpuc_vm_pci_passthrough:
    hostname: "{{ vcenter_hostname }}"
    username: "{{ vcenter_username }}"
    password: "{{ vcenter_password }}"
    datacenter: DC-GPU
    name: vm-train
    devices:
      - pci: "0000:af:00.0"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
devices:
  description: The VM's PCI passthrough devices with a DirectPath I/O backing, after the change (or as they would be in check mode).
  returned: success
  type: list
  elements: dict
  sample:
    - pci: "0000:3b:00.0"
      device_id: "2235"
      vendor_id: 4318
      system_id: "4c4c4544-0044-4810-8052-b2c04f4e4e32"
      label: "PCI device 0"
added:
  description: PCI addresses added.
  returned: success
  type: list
  elements: str
  sample: ["0000:af:00.0"]
removed:
  description: PCI addresses removed.
  returned: success
  type: list
  elements: str
  sample: []
"""

import ssl

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

try:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVim.task import WaitForTask
    from pyVmomi import vim, vmodl

    PYVMOMI_IMPORT_ERROR = None
except ImportError as import_error:
    PYVMOMI_IMPORT_ERROR = import_error

DEVICE_BACKING = "DeviceBackingInfo"


def connect(module):
    params = module.params
    context = None if params["validate_certs"] else ssl._create_unverified_context()
    try:
        return SmartConnect(host=params["hostname"], port=params["port"], user=params["username"],
                            pwd=params["password"], sslContext=context)
    except vim.fault.InvalidLogin as error:
        module.fail_json(msg="Login to %s failed: %s" % (params["hostname"], error.msg))
    except (OSError, vmodl.MethodFault) as error:
        module.fail_json(msg="Cannot connect to %s:%s: %s" % (params["hostname"], params["port"], error))


def find_vm(module, content):
    params = module.params
    if params["moid"]:
        vm = vim.VirtualMachine(params["moid"], content.rootFolder._stub)
        try:
            vm.name
        except vmodl.fault.ManagedObjectNotFound:
            module.fail_json(msg="No virtual machine with moid %s" % params["moid"])
        return vm
    datacenter = next((e for e in content.rootFolder.childEntity
                       if isinstance(e, vim.Datacenter) and e.name == params["datacenter"]), None)
    if datacenter is None:
        module.fail_json(msg="No datacenter named %s" % params["datacenter"])
    view = content.viewManager.CreateContainerView(datacenter.vmFolder, [vim.VirtualMachine], True)
    try:
        matches = [vm for vm in view.view if vm.name == params["name"]]
    finally:
        view.Destroy()
    if not matches:
        module.fail_json(msg="No virtual machine named %s in datacenter %s" % (params["name"], params["datacenter"]))
    if len(matches) > 1:
        module.fail_json(msg="%d virtual machines named %s in datacenter %s; give moid instead"
                         % (len(matches), params["name"], params["datacenter"]))
    return matches[0]


def attached_devices(vm):
    """The VM's DirectPath I/O passthrough devices, by host PCI address."""
    return {
        device.backing.id: device
        for device in vm.config.hardware.device
        if isinstance(device, vim.vm.device.VirtualPCIPassthrough)
        and isinstance(device.backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo)
    }


def available_devices(host):
    """The host's PCI devices that vCenter offers for passthrough (enabled and active), by address."""
    target = host.parent.environmentBrowser.QueryConfigTarget(host=host)
    return {info.pciDevice.id: info for info in (target.pciPassthrough or [])
            if isinstance(info, vim.vm.PciPassthroughInfo)}


def new_device(info, key):
    pci = info.pciDevice
    backing = vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo(
        id=pci.id,
        deviceId=format(pci.deviceId & 0xFFFF, "x"),
        vendorId=pci.vendorId,
        systemId=info.systemId,
        deviceName=pci.deviceName,
    )
    return vim.vm.device.VirtualPCIPassthrough(key=key, backing=backing)


def describe(device):
    backing = device.backing
    return {
        "pci": backing.id,
        "device_id": backing.deviceId,
        "vendor_id": backing.vendorId & 0xFFFF,
        "system_id": backing.systemId,
        "label": device.deviceInfo.label if device.deviceInfo else "",
    }


def wait_for_task(module, task):
    """Wait for a task; its fault (which WaitForTask raises) fails the module."""
    try:
        WaitForTask(task)
    except vmodl.MethodFault as error:
        module.fail_json(msg="Reconfiguring the virtual machine failed: %s" % (error.msg or error))


def plan(module, vm):
    """The devices to add (with their passthrough info) and to remove, by PCI address."""
    wanted = []
    for entry in module.params["devices"]:
        pci = entry["pci"].lower()
        if pci not in wanted:
            wanted.append(pci)
    attached = attached_devices(vm)
    if module.params["state"] == "absent":
        return [], [pci for pci in wanted if pci in attached], attached
    missing = [pci for pci in wanted if pci not in attached]
    if not missing:
        return [], [], attached
    host = vm.runtime.host
    known = {device.id for device in host.hardware.pciDevice}
    unknown = [pci for pci in missing if pci not in known]
    if unknown:
        module.fail_json(msg="Host %s has no PCI device %s" % (host.name, ", ".join(unknown)))
    available = available_devices(host)
    inactive = [pci for pci in missing if pci not in available]
    if inactive and not module.check_mode:
        module.fail_json(msg="Passthrough is not active on host %s for %s: enable it "
                             "(community.vmware.vmware_host_passthrough) and reboot the host"
                         % (host.name, ", ".join(inactive)))
    for pci in inactive:
        module.warn("passthrough is not active yet on %s for %s" % (host.name, pci))
    return [(pci, available.get(pci)) for pci in missing], [], attached


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hostname=dict(type="str", fallback=(env_fallback, ["VMWARE_HOST"])),
            username=dict(type="str", aliases=["user", "admin"], fallback=(env_fallback, ["VMWARE_USER"])),
            password=dict(type="str", aliases=["pass", "pwd"], no_log=True,
                          fallback=(env_fallback, ["VMWARE_PASSWORD"])),
            port=dict(type="int", default=443, fallback=(env_fallback, ["VMWARE_PORT"])),
            validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["VMWARE_VALIDATE_CERTS"])),
            datacenter=dict(type="str", required=True),
            name=dict(type="str"),
            moid=dict(type="str"),
            devices=dict(type="list", elements="dict", required=True,
                         options=dict(pci=dict(type="str", required=True))),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_one_of=[["name", "moid"]],
        mutually_exclusive=[["name", "moid"]],
        supports_check_mode=True,
    )
    if PYVMOMI_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("pyVmomi"), exception=str(PYVMOMI_IMPORT_ERROR))
    for option in ("hostname", "username", "password"):
        if not module.params[option]:
            module.fail_json(msg="%s is required (or the VMWARE_%s environment variable)"
                             % (option, "HOST" if option == "hostname" else option.upper()))

    si = connect(module)
    try:
        vm = find_vm(module, si.RetrieveContent())
        to_add, to_remove, attached = plan(module, vm)
        before = sorted(attached)
        after = sorted(set(before) - set(to_remove) | {pci for pci, _ in to_add})
        result = dict(changed=bool(to_add or to_remove), added=[pci for pci, _ in to_add],
                      removed=to_remove, diff=dict(before={"pci": before}, after={"pci": after}))
        if result["changed"] and not module.check_mode:
            if vm.runtime.powerState != vim.VirtualMachine.PowerState.poweredOff:
                module.fail_json(msg="Virtual machine %s is %s; PCI passthrough devices can only be changed "
                                     "while it is powered off" % (vm.name, vm.runtime.powerState), **result)
            changes = [vim.vm.device.VirtualDeviceSpec(operation="remove", device=attached[pci])
                       for pci in to_remove]
            # Negative keys mark new devices; vCenter assigns the real ones.
            changes += [vim.vm.device.VirtualDeviceSpec(operation="add", device=new_device(info, -100 - i))
                        for i, (pci, info) in enumerate(to_add)]
            spec = vim.vm.ConfigSpec(deviceChange=changes)
            if to_add:
                spec.memoryReservationLockedToMax = True
            wait_for_task(module, vm.ReconfigVM_Task(spec=spec))
            result["devices"] = [describe(d) for _, d in sorted(attached_devices(vm).items())]
        else:
            kept = [describe(attached[pci]) for pci in before if pci not in to_remove]
            planned = [{"pci": pci, "device_id": format(info.pciDevice.deviceId & 0xFFFF, "x") if info else None,
                        "vendor_id": info.pciDevice.vendorId & 0xFFFF if info else None,
                        "system_id": info.systemId if info else None, "label": ""}
                       for pci, info in to_add]
            result["devices"] = sorted(kept + planned, key=lambda d: d["pci"])
        module.exit_json(**result)
    finally:
        Disconnect(si)


if __name__ == "__main__":
    main()
