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

/// Below this many VMs the rules run on one thread: a second one costs more to start than it
/// saves. Measured on generated estates: at 10,000 VMs two threads took 2.0 ms and one 1.6 ms;
/// at 20,000, 2.2 ms and 3.6 ms.
const TWO_THREADS_FROM_VMS: usize = 20_000;

/// Runs every rule over the model. A large estate's rules run on two threads: the rules about
/// VMs' GPUs (placement, then what it decides: MMIO, firmware, reservation) on one, and those
/// that read only the model or fill host facts on the other; once placement is done, each
/// thread takes half of the VMs' own rules. The findings are put together in the order one
/// thread gives them.
pub fn check(model: &Model, diags: &mut Diagnostics) -> Analysis {
    check_on(model, diags, model.vms.len() >= TWO_THREADS_FROM_VMS)
}

fn check_on(model: &Model, diags: &mut Diagnostics, two_threads: bool) -> Analysis {
    let (by_vm, by_host) = both(two_threads, || VmRules::run(model, two_threads), || HostRules::run(model));
    let mut out = by_host.before;
    out.extend(by_vm.out);
    out.extend(by_host.after);
    diags.extend(ranges::collapse(model, out));
    Analysis { vms: by_vm.facts, hosts: by_host.facts }
}

/// The rules that read only the model, and those that fill [`HostFacts`].
struct HostRules {
    facts: Vec<HostFacts>,
    /// Findings that come before the VM rules' (R2, R3 and the host rules)...
    before: Out,
    /// ... and after them (guests, Bitfusion).
    after: Out,
}

impl HostRules {
    fn run(model: &Model) -> Self {
        let mut facts = vec![HostFacts::default(); model.hosts.len()];
        let (mut before, mut after) = (Out::new(), Out::new());
        gpus::check(model, &mut before);
        host::check(model, &mut facts, &mut before);
        guest::check(model, &mut after);
        bitfusion::check(model, &mut after);
        HostRules { facts, before, after }
    }
}

/// The rules that fill [`VmFacts`].
struct VmRules {
    facts: Vec<VmFacts>,
    out: Out,
}

impl VmRules {
    fn run(model: &Model, two_threads: bool) -> Self {
        let mut facts = vec![VmFacts::default(); model.vms.len()];
        let mut out = Out::new();
        // Placement first: the MMIO and firmware facts of a vGPU VM depend on its GPU's board.
        vgpu::check(model, &mut facts, &mut out);
        vm::check(model, &mut facts, two_threads, &mut out);
        VmRules { facts, out }
    }
}

/// Runs `a` and `b`, on two threads when `two_threads` is set, and returns both results.
fn both<A, B: Send>(two_threads: bool, a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    if !two_threads {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (a, b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// Shared by the rule modules.
type Out = Vec<Diagnostic>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Code;

    /// A host whose VMs break rules of every lane: a range with a vGPU too many and more
    /// reservation than the host has, a passthrough VM that would move and boots undeclared
    /// firmware, and a VM that takes the next host's GPU.
    fn host(i: usize, hosts: usize) -> String {
        let next = (i + 1) % hosts;
        format!(
            r#"
host h{i} {{
  esxi "6.7.0 U1"
  memory 128GiB
  nvidia {{ vib "/vmfs/volumes/ds/NVIDIA/driver.vib"  release "6.2" }}
  gpu g0 {{ model tesla-p100-16gb  pci 0000:09:00.0  use vgpu }}
  gpu g1 {{ model tesla-p100-16gb  pci 0000:0a:00.0  use passthrough }}
}}
vm v{i}[1..3] {{ host h{i}  memory 48GiB  firmware efi  vgpu grid_p100-8q  guest {{ os linux  driver "390.42"  license lic }} }}
vm p{i} {{ host h{i}  memory 16GiB  passthrough h{i}.g1  vmotion true }}
vm q{i} {{ host h{i}  memory 8GiB  passthrough h{next}.g1 }}
"#
        )
    }

    /// Two threads find what one finds and derive the same facts.
    #[test]
    fn two_threads_check_as_one() {
        let hosts = 250;
        let text: String =
            std::iter::once("license lic { server \"10.1.2.3\" }\n".to_string()).chain((0..hosts).map(|i| host(i, hosts))).collect();
        let checked = crate::test_support::checked_with_errors(&text);
        let run = |two_threads| {
            let mut diags = Diagnostics::default();
            let analysis = check_on(&checked.model, &mut diags, two_threads);
            (analysis.vms, analysis.hosts, diags.into_sorted())
        };
        let one = run(false);
        for code in [Code::NoRoom, Code::HostOvercommitted, Code::FirmwareUndeclared, Code::PassthroughMobility, Code::ForeignGpu] {
            assert!(one.2.iter().filter(|d| d.code == code).count() >= hosts, "{code:?}");
        }
        assert!(one == run(true), "two threads differ from one");
    }
}
