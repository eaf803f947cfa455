//! Words for steps: a one-line title (graph nodes, plan.md headings) and, for manual steps,
//! the exact instruction the operator follows.

use crate::model::{GpuId, GuestOs, LicenseKind, Model};
use crate::plan::{Action, Plan, StepId, Target};

fn gpus(model: &Model, gpus: &[GpuId]) -> String {
    gpus.iter()
        .map(|&g| model.gpu(g).pci.as_ref().map_or_else(|| model.gpu_label(g), |p| format!("{} ({})", model.gpu_label(g), p.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn target_name(model: &Model, target: Target) -> &str {
    match target {
        Target::Host(h) => &model.host(h).name,
        Target::VCenter => "vCenter",
        Target::Vm(v) | Target::Guest(v) => &model.vm(v).name,
        Target::Pool(p) => &model.pools[p.index()].name,
    }
}

/// `esx14: install the NVIDIA host driver`.
pub fn title(model: &Model, plan: &Plan, id: StepId) -> String {
    let step = plan.step(id);
    let what = match &step.action {
        Action::EnableInBios { setting } => format!("enable {} in the BIOS", setting.name()),
        Action::SetMigMode { gpus: g, enable } => format!("MIG mode {} on {}", if *enable { "on" } else { "off" }, gpus(model, g)),
        Action::VerifyMigMode { gpus: g, enable } => {
            format!("verify MIG mode {} on {}", if *enable { "on" } else { "off" }, gpus(model, g))
        }
        Action::EnterMaintenanceMode => "enter maintenance mode".to_string(),
        Action::SetHostGraphics { policy } => format!("host graphics SharedPassthru, policy {}", policy.esxcli()),
        Action::Reboot { .. } => "reboot".to_string(),
        Action::InstallHostDriver { daemon: false, .. } => "install the NVIDIA host driver".to_string(),
        Action::InstallHostDriver { daemon: true, .. } => "install the NVIDIA host driver and GPU Management Daemon components".to_string(),
        Action::UpdateHostDriver { from, .. } => format!("update the NVIDIA host driver from vGPU {from}"),
        Action::AddToClusterImage { update: false, .. } => {
            "add the NVIDIA components to the cluster image and remediate the host".to_string()
        }
        Action::AddToClusterImage { update: true, .. } => {
            "update the NVIDIA components in the cluster image and remediate the host".to_string()
        }
        Action::EnablePassthrough { gpus: g } => format!("enable passthrough: {}", gpus(model, g)),
        Action::EnablePassthroughInClient { gpus: g } => format!("enable passthrough in the vSphere Client: {}", gpus(model, g)),
        Action::DisablePassthrough { gpus: g, .. } => format!("disable passthrough: {}", gpus(model, g)),
        Action::SetVgpuMode { gpu, mode } => format!("{} vGPU mode on {}", mode.describe(), model.gpu_label(*gpu)),
        Action::SetModuleParameters { rmpvmrl, vgpu_migration } => {
            format!("nvidia module NVreg_RegistryDwords={}", crate::plan::registry_dwords(*rmpvmrl, *vgpu_migration))
        }
        Action::VerifyHostDriver { .. } => "verify the NVIDIA host driver".to_string(),
        Action::VerifyScheduler { rmpvmrl } => format!("verify the vGPU scheduler ({})", rmpvmrl.meaning()),
        Action::VerifyPassthrough { .. } => "verify passthrough".to_string(),
        Action::DisableEcc { gpus: g } => format!("disable ECC: {}", gpus(model, g)),
        Action::VerifyEccDisabled { .. } => "verify ECC is disabled".to_string(),
        Action::ExitMaintenanceMode => "exit maintenance mode".to_string(),
        Action::EnableVgpuHotMigrate => "enable vgpu.hotmigrate.enabled".to_string(),
        Action::ConfigureVm => "apply the .vmx fragment".to_string(),
        Action::InstallGuestDriver => "install the guest driver".to_string(),
        Action::LicenceGuest => "license the guest".to_string(),
        Action::StartResourceScheduler { server } => {
            format!("start the resource scheduler on {}", model.pools[pool(step.target)].servers[*server].name)
        }
        Action::ConfigureClient { client } => format!("configure client {}", model.pools[pool(step.target)].clients[*client].name),
    };
    format!("{}: {what}", target_name(model, step.target))
}

fn pool(target: Target) -> usize {
    match target {
        Target::Pool(p) => p.index(),
        _ => 0,
    }
}

/// The operator's instruction for a manual step (`None` for scripted host steps).
pub fn instruction(model: &Model, plan: &Plan, id: StepId) -> Option<String> {
    let step = plan.step(id);
    Some(match (&step.action, step.target) {
        (Action::EnableInBios { setting }, Target::Host(h)) => format!(
            "In the BIOS of `{}`, enable {}, then write `bios {{ {} true }}` in the spec.",
            model.host(h).name,
            setting.where_to_find(),
            setting.key()
        ),
        (Action::DisablePassthrough { gpus: g, in_client: true }, Target::Host(h)) => format!(
            "vSphere Client: select `{}` > Configure > Hardware > PCI Devices > Edit, untick {}, click OK. The phase's script then reboots the host.",
            model.host(h).name,
            gpus(model, g)
        ),
        (Action::EnablePassthroughInClient { gpus: g }, Target::Host(h)) => format!(
            "vSphere Client: select `{}` > Configure > Hardware > PCI Devices > Edit, tick {}, click OK. The phase's script then reboots the host.",
            model.host(h).name,
            gpus(model, g)
        ),
        (Action::AddToClusterImage { path, daemon, .. }, Target::Host(h)) => {
            let file = path.rsplit('/').next().unwrap_or(path);
            let daemon = if *daemon { " and the GPU Management Daemon component (`nvd-gpu-mgmt-daemon_*.zip`, from the same NVIDIA download)" } else { "" };
            format!(
                "`{}` is in an image-managed cluster: import `{file}`{daemon} to the vSphere Lifecycle Manager depot (Import Updates to the vSphere Lifecycle Manager Depot), then in the vSphere Client select the cluster > Updates > Hosts > Image > Edit > Components > Add Components, pick the NVIDIA components and their versions, Validate, Save; then Check Compliance and Remediate `{}` (VMware Managing Host and Cluster Lifecycle 7.0, Edit an Image; NVIDIA vGPU Software User Guide 17, §2.9.1). Do not run `esxcli software vib install` there: the host would drift from the image.",
                model.host(h).name,
                model.host(h).name
            )
        }
        (Action::EnableVgpuHotMigrate, _) => "vSphere Client: select the vCenter Server > Configure > Settings > Advanced Settings > Edit Settings, add `vgpu.hotmigrate.enabled` = `true`.".to_string(),
        (Action::ConfigureVm, Target::Vm(v)) => {
            let name = &model.vm(v).name;
            format!("Power off `{name}`. In Edit Settings: add each PCI device (Add New Device > PCI Device; for a vGPU choose the profile string of `vms/{name}.vmx`); set the firmware under VM Options > Boot Options > Firmware (ESXi drops `firmware` given as a configuration parameter); reserve memory under Virtual Hardware > Memory > Reservation with \"Reserve all guest memory (All locked)\"; add the remaining keys of `vms/{name}.vmx` (the 64-bit MMIO ones) under VM Options > Advanced > Edit Configuration. Power on. (NVIDIA vGPU Software User Guide 17, §2.9.4; Broadcom KB 2142307.)")
        }
        (Action::InstallGuestDriver, Target::Guest(v)) => {
            let vm = model.vm(v);
            let guest = vm.guest.as_ref()?;
            let driver = guest.driver.as_ref().map_or_else(String::new, |d| d.value.to_string());
            let windows = guest.os.as_ref().is_some_and(|o| o.value == GuestOs::Windows);
            if windows {
                format!("Install NVIDIA driver {driver} in `{}` and restart it; check with `nvidia-smi`.", vm.name)
            } else if vm.vgpus.is_empty() {
                format!("In `{}`: install NVIDIA driver {driver} (the datacenter driver, or the vGPU software guest driver for a licensed guest), then check with `nvidia-smi`.", vm.name)
            } else {
                format!("In `{}`: leave X (`sudo init 3`), run `sudo sh ./NVIDIA-Linux-x86_64-{driver}-grid.run`, then check with `nvidia-smi` (VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.3).", vm.name)
            }
        }
        (Action::LicenceGuest, Target::Guest(v)) => {
            let vm = model.vm(v);
            let licence = vm.guest.as_ref()?.license.as_ref()?;
            let windows = vm.guest.as_ref()?.os.as_ref().is_some_and(|o| o.value == GuestOs::Windows);
            let token = match &model.license(licence.value).kind {
                LicenseKind::Token { file } => Some(file.value.clone()),
                LicenseKind::Server { .. } => None,
            };
            let gridd = super::gridd::of(model, v).map_or_else(String::new, |shared| shared.path(model));
            match (windows, token) {
                (true, Some(t)) => format!("Copy `{t}` to `%SystemDrive%\\Program Files\\NVIDIA Corporation\\vGPU Licensing\\ClientConfigToken` in `{}` and restart the NvDisplayContainer service.", vm.name),
                (true, None) => format!("In `{}`: NVIDIA Control Panel > Manage License: enter the license server of licence `{}`.", vm.name, model.license(licence.value).name),
                (false, Some(t)) => format!("In `{}`: copy `{gridd}` to `/etc/nvidia/gridd.conf` and `{t}` to `/etc/nvidia/ClientConfigToken/` (`chmod 744`), run `sudo systemctl restart nvidia-gridd`, then `nvidia-smi -q | grep -i license` shows it licensed.", vm.name),
                (false, None) => format!("In `{}`: copy `{gridd}` to `/etc/nvidia/gridd.conf`, run `sudo service nvidia-gridd restart`, then `sudo grep grid /var/log/messages` shows \"license acquired successfully\" (VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.3.5).", vm.name),
            }
        }
        (Action::StartResourceScheduler { server }, Target::Pool(p)) => {
            let pool = &model.pools[p.index()];
            let s = &pool.servers[*server];
            if pool.product.value.flexdirect {
                format!("On `{}` ({}): `sudo flexdirect init`, then `nohup flexdirect resource_scheduler > /dev/null 2>&1 &`; `flexdirect list_gpus` shows its GPUs (VMware Learning Guide: GPUs for Machine Learning on vSphere, §7.2.4-7.2.5).", s.name, s.address)
            } else {
                format!("On `{}` ({}): the vSphere Bitfusion server appliance runs the scheduler; `bitfusion list_gpus` shows its GPUs.", s.name, s.address)
            }
        }
        (Action::ConfigureClient { client }, Target::Pool(p)) => {
            let pool = &model.pools[p.index()];
            let c = &pool.clients[*client];
            let cli = if pool.product.value.flexdirect { "flexdirect" } else { "bitfusion" };
            let share = c.share.as_ref().map_or_else(String::new, |s| format!(" -p {}", s.value));
            let memory = c.memory.as_ref().map_or_else(String::new, |m| format!(" -m {}", m.value.as_mib_ceil()));
            format!(
                "On `{}` ({}): copy `bitfusion/{}/{}/servers.conf` to `{}`, then `{cli} run -n {}{share}{memory} -- nvidia-smi` (VMware Learning Guide: GPUs for Machine Learning on vSphere, §7.2.10-7.2.11).",
                c.name,
                c.address,
                pool.name,
                c.name,
                super::servers::path(model, p),
                c.gpus.value
            )
        }
        _ => return None,
    })
}
