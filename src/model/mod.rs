//! The typed model: what a `.gpu` estate means, with typed IDs, quantities as newtypes and
//! every entity keeping the span it came from. Built by [`lower`]; read by `check`, `plan`
//! and `emit`. No string keys cross this boundary except names kept for output.

pub mod keys;
pub(crate) mod lower;
pub mod values;

use crate::catalog::{BoardId, Catalog};
use crate::quantity::{ByteSize, Version};
use crate::source::Span;
pub use values::{EsxiVersion, PciAddress};

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}
id_type!(LicenseId, HostId, GpuId, VmId, PoolId);

/// A value and the span it was written at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

#[derive(Debug, Default)]
pub struct Model {
    pub catalog: Catalog,
    pub licenses: Vec<License>,
    pub hosts: Vec<Host>,
    pub gpus: Vec<Gpu>,
    pub vms: Vec<Vm>,
    pub pools: Vec<Pool>,
}

impl Model {
    pub fn host(&self, id: HostId) -> &Host {
        &self.hosts[id.index()]
    }
    pub fn gpu(&self, id: GpuId) -> &Gpu {
        &self.gpus[id.index()]
    }
    pub fn vm(&self, id: VmId) -> &Vm {
        &self.vms[id.index()]
    }
    pub fn license(&self, id: LicenseId) -> &License {
        &self.licenses[id.index()]
    }
    pub fn vm_ids(&self) -> impl Iterator<Item = VmId> {
        (0..self.vms.len() as u32).map(VmId)
    }
    pub fn host_ids(&self) -> impl Iterator<Item = HostId> {
        (0..self.hosts.len() as u32).map(HostId)
    }
    pub fn gpu_ids(&self) -> impl Iterator<Item = GpuId> {
        (0..self.gpus.len() as u32).map(GpuId)
    }
    /// `esx14.g0`: how a GPU is named in messages and outputs.
    pub fn gpu_label(&self, id: GpuId) -> String {
        let gpu = self.gpu(id);
        format!("{}.{}", self.host(gpu.host).name, gpu.name)
    }
    /// The board of a GPU, when its model resolved.
    pub fn board_of(&self, id: GpuId) -> Option<&crate::catalog::Board> {
        self.gpu(id).board.map(|b| self.catalog.board(b))
    }
}

#[derive(Debug)]
pub struct License {
    pub name: String,
    pub span: Span,
    pub kind: LicenseKind,
}

#[derive(Debug)]
pub enum LicenseKind {
    /// The legacy NVIDIA license server (gridd.conf `ServerAddress`/`ServerPort`).
    Server { primary: Endpoint, backup: Option<Endpoint> },
    /// NVIDIA License System: a client configuration token file.
    Token { file: Spanned<String> },
}

#[derive(Debug)]
pub struct Endpoint {
    pub address: Spanned<String>,
    pub port: u16,
}

#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub span: Span,
    /// How scripts and the rollout reach the host; the host name when the spec gives none.
    pub address: String,
    /// The vCenter cluster the host belongs to (`cluster "gpu-a"`), which groups hosts in the
    /// Ansible inventory so that a rollout goes cluster by cluster; optional.
    pub cluster: Option<Spanned<String>>,
    /// The host UUID (`esxcli system uuid get`), which passthrough devices name in
    /// `pciPassthruN.systemId`; optional.
    pub system_id: Option<String>,
    pub esxi: Spanned<EsxiVersion>,
    pub memory: Option<Spanned<ByteSize>>,
    pub assignment: AssignmentPolicy,
    pub graphics: Option<Spanned<GraphicsType>>,
    pub above_4g_decoding: Option<Spanned<bool>>,
    /// SR-IOV in the server BIOS, which vGPU on Ampere and later GPUs needs.
    pub sr_iov: Option<Spanned<bool>>,
    pub nvidia: Option<HostDriver>,
    pub gpus: Vec<GpuId>,
    /// What the host has today and how it is managed: the plan changes only what differs.
    pub state: HostState,
}

/// A host's present state (`installed { ... }`) and whether vSphere Lifecycle Manager owns its
/// software (`image_managed true`). Both optional: without them the host is a green field.
#[derive(Debug, Default)]
pub struct HostState {
    pub installed: Option<Installed>,
    /// The host's cluster is managed with a single image (vLCM): software is added to the
    /// cluster image, never installed with esxcli, which would drift from the image (VMware
    /// Managing Host and Cluster Lifecycle 8.0, "Cluster and Host Compliance").
    pub image_managed: Option<Spanned<bool>>,
}

/// `installed { ... }`: what the host runs today, for everything a runbook would change.
#[derive(Debug)]
pub struct Installed {
    pub span: Span,
    /// vGPU software release of the installed Virtual GPU Manager (`release "17.1"`).
    pub release: Option<Spanned<Version>>,
    /// Its driver version as `esxcli software vib list` shows it (`driver "550.54.16"`).
    pub driver: Option<Spanned<String>>,
    /// Host default graphics type in place (`graphics shared_direct`).
    pub graphics: Option<Spanned<GraphicsType>>,
    /// Shared passthrough assignment policy in place; vSphere's default when not given.
    pub assignment: Option<Spanned<AssignmentPolicy>>,
    /// GPUs already enabled for passthrough.
    pub passthrough: Vec<GpuId>,
    /// GPUs already in mixed-size vGPU mode (the others are in same-size mode).
    pub mixed_size: Vec<GpuId>,
    /// GPUs already in MIG mode (`nvidia-smi -mig 1` done, and the host rebooted on Ampere).
    pub mig: Vec<GpuId>,
    /// GPUs whose ECC is already off.
    pub ecc_off: Vec<GpuId>,
    /// The nvidia module's `NVreg_RegistryDwords` value in place (`parameters "RmPVMRL=0x01"`).
    pub parameters: Option<Spanned<String>>,
    /// The block had a problem already reported: what it leaves out may have been written.
    pub incomplete: bool,
}

impl Installed {
    /// The installed driver matches the spec's release (and driver version, when both name one).
    pub fn has_release(&self, release: &Version, driver: Option<&str>) -> bool {
        let same_release = self.release.as_ref().is_some_and(|r| r.value == *release);
        let same_driver = match (&self.driver, driver) {
            (Some(have), Some(want)) => have.value == want,
            _ => true,
        };
        same_release && same_driver
    }
}

/// How ESXi places vGPUs on the host's GPUs (`esxcli graphics host set
/// --shared-passthru-assignment-policy`); vSphere's default is Performance (ref §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AssignmentPolicy {
    /// Spread VMs across GPUs (breadth first).
    #[default]
    Performance,
    /// Group VMs on a GPU until it is full (depth first).
    Consolidation,
}

impl AssignmentPolicy {
    pub fn esxcli(self) -> &'static str {
        match self {
            AssignmentPolicy::Performance => "Performance",
            AssignmentPolicy::Consolidation => "Consolidation",
        }
    }
}

/// Host default graphics type (`esxcli graphics host set --default-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphicsType {
    /// VMware vSGA.
    Shared,
    /// Vendor shared passthrough: NVIDIA vGPU ("Shared Direct").
    SharedDirect,
}

#[derive(Debug)]
pub struct HostDriver {
    pub span: Span,
    /// NVIDIA vGPU or NVIDIA AI Enterprise; `None` when the spec does not say (NVIDIA vGPU).
    pub product: Option<Spanned<crate::catalog::Product>>,
    /// Absolute path of the VIB (`.vib`, installed with `-v`) or offline bundle (`.zip`, `-d`).
    pub vib: Option<Spanned<String>>,
    /// vGPU software release, e.g. 6.2 or 17.1.
    pub release: Option<Spanned<Version>>,
    pub scheduler: Option<Spanned<Scheduler>>,
    /// Time slice in milliseconds.
    pub time_slice: Option<Spanned<u32>>,
    /// The block had a problem already reported (a misspelt key, an unreadable value): the
    /// rule that asks for its `vib` and `release` stays silent.
    pub incomplete: bool,
}

impl HostDriver {
    /// The product the host runs: NVIDIA vGPU unless the spec says NVIDIA AI Enterprise.
    pub fn product(&self) -> crate::catalog::Product {
        self.product.as_ref().map_or(crate::catalog::Product::Vgpu, |p| p.value)
    }
}

/// vGPU time-slice scheduler (ref §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduler {
    BestEffort,
    EqualShare,
    FixedShare,
}

#[derive(Debug)]
pub struct Gpu {
    pub name: String,
    pub span: Span,
    pub host: HostId,
    /// `None` when the model is not in the catalog (already reported).
    pub board: Option<BoardId>,
    pub model_span: Span,
    pub pci: Option<Spanned<PciAddress>>,
    pub usage: Spanned<GpuUse>,
    pub mode: Spanned<VgpuMode>,
    pub ecc: Option<Spanned<bool>>,
    /// Its declaration had a problem already reported (an unknown model, a misspelt key, an
    /// unreadable `use`): its board, use or capacity are not known, so the placement rules
    /// that would count on them stay silent.
    pub incomplete: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuUse {
    Passthrough,
    Vgpu,
}

/// How a vGPU GPU is shared: time-sliced in same-size or mixed-size mode (mixed-size from
/// vGPU 17 on ESXi 8.0 U3), or partitioned into MIG GPU instances that MIG-backed vGPU types
/// use (NVIDIA AI Enterprise; `nvidia-smi -mig 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VgpuMode {
    #[default]
    SameSize,
    MixedSize,
    Mig,
}

impl VgpuMode {
    /// How messages and plan.md name the mode.
    pub fn describe(self) -> &'static str {
        match self {
            VgpuMode::SameSize => "same-size",
            VgpuMode::MixedSize => "mixed-size",
            VgpuMode::Mig => "MIG",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    Efi,
    Bios,
}

#[derive(Debug)]
pub struct Vm {
    pub name: String,
    pub span: Span,
    /// `None` when the host did not resolve (already reported).
    pub host: Option<HostId>,
    pub memory: Spanned<ByteSize>,
    pub cpus: Option<u32>,
    pub firmware: Option<Spanned<Firmware>>,
    pub reservation: Option<Spanned<ByteSize>>,
    pub mmio: Option<Spanned<ByteSize>>,
    pub passthrough: Vec<Spanned<GpuId>>,
    pub vgpus: Vec<VgpuRequest>,
    pub vmotion: Option<Spanned<bool>>,
    pub drs: Option<Spanned<bool>>,
    pub snapshots: Option<Spanned<bool>>,
    pub guest: Option<Guest>,
    /// Its declaration had a problem already reported (an unknown, misspelt or unreadable
    /// attribute): rules about what it leaves undeclared stay silent, since the user may have
    /// written it and been told so once.
    pub incomplete: bool,
    /// The range as written (`dev[1..4]`) when the VM is one of a range's members, which
    /// share one body: a fault of the body is reported once, naming the range.
    pub range: Option<std::sync::Arc<str>>,
}

impl Vm {
    pub fn has_gpu(&self) -> bool {
        !self.passthrough.is_empty() || !self.vgpus.is_empty()
    }
}

/// One `vgpu TYPE [on GPU]` of a VM.
#[derive(Debug)]
pub struct VgpuRequest {
    /// Lower-cased profile name, e.g. `grid_p100-8q`.
    pub type_name: String,
    pub span: Span,
    pub pinned: Option<Spanned<GpuId>>,
}

#[derive(Clone, Debug)]
pub struct Guest {
    pub span: Span,
    pub os: Option<Spanned<GuestOs>>,
    pub driver: Option<Spanned<Version>>,
    pub cuda: Option<Spanned<Version>>,
    pub license: Option<Spanned<LicenseId>>,
    pub product: Option<Spanned<Product>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestOs {
    Linux,
    Windows,
}

/// The licensed product of a passthrough guest (gridd.conf `FeatureType` 2 or 4, ref §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// RTX vWS / Quadro vDWS: FeatureType 2.
    Vws,
    /// Virtual Compute Server: FeatureType 4.
    Vcs,
}

#[derive(Debug)]
pub struct Pool {
    pub name: String,
    pub span: Span,
    pub product: Spanned<BitfusionProduct>,
    pub servers: Vec<PoolServer>,
    pub clients: Vec<PoolClient>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BitfusionProduct {
    /// FlexDirect 1.x (before VMware) or vSphere Bitfusion 2.x and later.
    pub flexdirect: bool,
    pub version: Version,
}

#[derive(Debug)]
pub struct PoolServer {
    pub name: String,
    pub span: Span,
    /// The VM that serves; `None` when the name is not a VM (already reported).
    pub vm: Option<VmId>,
    pub address: String,
}

#[derive(Debug)]
pub struct PoolClient {
    pub name: String,
    pub span: Span,
    pub address: String,
    /// Indexes into the pool's servers; every server when the client names none.
    pub servers: Vec<usize>,
    /// Some names in `servers` did not resolve (already reported), so counts over the
    /// servers are incomplete.
    pub unresolved_servers: bool,
    pub servers_span: Span,
    pub gpus: Spanned<u32>,
    pub share: Option<Spanned<f64>>,
    pub memory: Option<Spanned<ByteSize>>,
}
