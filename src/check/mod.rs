//! The rules R1-R20 of DESIGN.md over the typed model. Every check runs; nothing stops at
//! the first finding. Besides diagnostics, checking derives the facts later stages need
//! (firmware, 64-bit MMIO window, reservation, vGPU placement), so each fact is computed
//! once, by the rule that owns it.

mod bitfusion;
mod gpus;
mod guest;
mod host;
mod ranges;
pub mod tables;
mod vgpu;
mod vm;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{GpuId, Model, VmId};
use crate::quantity::ByteSize;

/// What checking derives about each VM (indexed by [`VmId`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmFacts {
    /// The VM must boot EFI (R5).
    pub efi: bool,
    /// The 64-bit MMIO window, when the VM needs one (R4).
    pub mmio: Option<ByteSize>,
    /// `sched.mem.min`: all of memory for a GPU VM (R7).
    pub reservation: Option<ByteSize>,
    /// For each `vgpu` of the VM, the GPU it was placed on (R12).
    pub placements: Vec<Option<GpuId>>,
}

/// What checking derives about each host (indexed by `HostId`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// A GPU of the host maps 16 GB or more, so BIOS above-4G decoding is needed (R6).
    pub needs_above_4g: bool,
    /// A vGPU GPU of the host is Ampere or later, so SR-IOV must be on in the BIOS (R6).
    pub needs_sr_iov: bool,
    /// vGPU GPUs whose ECC must be turned off (R14).
    pub ecc_off: Vec<GpuId>,
}

#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub vms: Vec<VmFacts>,
    pub hosts: Vec<HostFacts>,
}

impl Analysis {
    pub fn vm(&self, id: VmId) -> &VmFacts {
        &self.vms[id.index()]
    }
}

/// Runs every rule over the model.
pub fn check(model: &Model, diags: &mut Diagnostics) -> Analysis {
    let mut analysis = Analysis { vms: vec![VmFacts::default(); model.vms.len()], hosts: vec![HostFacts::default(); model.hosts.len()] };
    let mut out = Vec::new();
    gpus::check(model, &mut out);
    host::check(model, &mut analysis, &mut out);
    // Placement first: the MMIO and firmware facts of a vGPU VM depend on its GPU's board.
    vgpu::check(model, &mut analysis, &mut out);
    vm::check(model, &mut analysis, &mut out);
    guest::check(model, &mut out);
    bitfusion::check(model, &mut out);
    diags.extend(ranges::collapse(model, out));
    analysis
}

/// Shared by the rule modules.
type Out = Vec<Diagnostic>;
