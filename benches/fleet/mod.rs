//! A deterministic fleet generator for benchmarks, property tests and load tests.
//!
//! [`estate`] writes a valid estate of N hosts: ESXi 8.0 U3, 2 TiB, four GPUs each (two in
//! passthrough, two for vGPU, boards drawn from the built-in catalog), about ten VMs per host
//! (passthrough VMs with one or two GPUs, vGPU VMs with C-series types within the per-GPU
//! maximum, Linux guests licensed by NLS), one NLS licence and a vSphere Bitfusion pool whose
//! servers are passthrough VMs. It checks with no errors (the pool draws the Bitfusion
//! discontinuation warning, W2006, once).
//!
//! [`estate_with_violations`] plants `k` violations of each rule it knows how to break, so a
//! benchmark of `check` also walks the error paths; [`estate_files`] splits an estate into a top
//! file that imports one file per rack.
//!
//! No external crates: the randomness is a splitmix64 generator seeded by the caller, so the
//! same (hosts, seed) always gives the same bytes.

#![allow(dead_code)] // each user of this module (the example, the benchmarks) uses part of it

use std::fmt::Write as _;

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for choosing shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Boards used for passthrough: (catalog id, framebuffer GiB).
const PASSTHROUGH_BOARDS: &[(&str, u32)] = &[("a100-pcie-80gb", 80), ("h100-pcie-80gb", 80), ("nvidia-l40s", 48)];

/// Boards used for vGPU: (catalog id, a C-series type, how many of it one GPU takes). Each
/// takes at least 5, so the host's two vGPU GPUs hold its 8-9 vGPU VMs.
const VGPU_BOARDS: &[(&str, &str, usize)] = &[
    ("a100-pcie-80gb", "grid_a100d-16c", 5),
    ("h100-pcie-80gb", "nvidia_h100-16c", 5),
    ("nvidia-l40s", "nvidia_l40s-8c", 6),
    ("nvidia-a30", "nvidia_a30-4c", 6),
];

const PCI: [&str; 4] = ["0000:17:00.0", "0000:31:00.0", "0000:b1:00.0", "0000:ca:00.0"];
/// C-series types on vSphere come with the NVIDIA AI Enterprise host driver.
const VIB: &str = "/vmfs/volumes/ds1/nvidia/NVD-AIE-800_550.54.16-1OEM.800.1.0.20613240.zip";
const GUEST: &str = "guest { os linux  driver \"550.54.15\"  cuda \"12.4\"  license nls }";

/// Bitfusion servers: the first passthrough VM of every `BITFUSION_EVERY`-th host, at most this many.
const BITFUSION_SERVERS: usize = 4;
const BITFUSION_EVERY: usize = 7;
const BITFUSION_CLIENTS: usize = 6;

/// A rule violation the generator can plant. Each one is local to one host (and its VMs), so
/// `k` of each land on different hosts when the estate is large enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// E0101: a second VM with the name of an existing one.
    DuplicateVm,
    /// E0102: a VM on a host that does not exist.
    UnknownHost,
    /// E0201: a PCI device number above 1f.
    BadPci,
    /// E0202: two GPUs of a host at one PCI address.
    DuplicatePci,
    /// E0203: a GPU model that is not in the catalog.
    UnknownModel,
    /// E0301: a passthrough GPU given to a second VM.
    SharedPassthrough,
    /// E0302: a vGPU pinned on a passthrough GPU.
    VgpuOnPassthroughGpu,
    /// E0401: an explicit 64-bit MMIO window smaller than the GPUs need.
    MmioTooSmall,
    /// E0402: a 64-bit MMIO window that is not a power of two.
    MmioNotPow2,
    /// E0501: BIOS firmware on a VM with a large-BAR GPU.
    BiosFirmware,
    /// E0601: above-4G decoding off on a host with large GPUs.
    Above4gOff,
    /// E0701: a GPU VM reserving part of its memory.
    PartialReservation,
    /// E0702: reservations over the host's memory.
    HostMemory,
    /// E0901: a vGPU type the board does not offer.
    UnknownVgpuType,
    /// E1001 (and E1201): a third... fifth vGPU pinned on a full GPU.
    VgpuOverCapacity,
    /// E1302: a relative VIB path.
    RelativeVib,
    /// E1601: a vGPU guest without a licence.
    UnlicensedGuest,
    /// E1701: a guest driver from another branch than the host's manager.
    DriverBranch,
    /// E1702: a CUDA version of a newer major than the guest driver supports.
    CudaDriver,
    /// E1801: vMotion on a passthrough VM.
    VmotionPassthrough,
    /// E2003: a Bitfusion share of 1.5.
    BitfusionShare,
    /// E2005: a Bitfusion client asking for more GPUs than its servers have.
    BitfusionGpus,
}

impl Violation {
    pub const ALL: &'static [Violation] = &[
        Violation::DuplicateVm,
        Violation::UnknownHost,
        Violation::BadPci,
        Violation::DuplicatePci,
        Violation::UnknownModel,
        Violation::SharedPassthrough,
        Violation::VgpuOnPassthroughGpu,
        Violation::MmioTooSmall,
        Violation::MmioNotPow2,
        Violation::BiosFirmware,
        Violation::Above4gOff,
        Violation::PartialReservation,
        Violation::HostMemory,
        Violation::UnknownVgpuType,
        Violation::VgpuOverCapacity,
        Violation::RelativeVib,
        Violation::UnlicensedGuest,
        Violation::DriverBranch,
        Violation::CudaDriver,
        Violation::VmotionPassthrough,
        Violation::BitfusionShare,
        Violation::BitfusionGpus,
    ];

    /// The code `gpuc check` reports for it.
    pub fn code(self) -> &'static str {
        match self {
            Violation::DuplicateVm => "E0101",
            Violation::UnknownHost => "E0102",
            Violation::BadPci => "E0201",
            Violation::DuplicatePci => "E0202",
            Violation::UnknownModel => "E0203",
            Violation::SharedPassthrough => "E0301",
            Violation::VgpuOnPassthroughGpu => "E0302",
            Violation::MmioTooSmall => "E0401",
            Violation::MmioNotPow2 => "E0402",
            Violation::BiosFirmware => "E0501",
            Violation::Above4gOff => "E0601",
            Violation::PartialReservation => "E0701",
            Violation::HostMemory => "E0702",
            Violation::UnknownVgpuType => "E0901",
            Violation::VgpuOverCapacity => "E1001",
            Violation::RelativeVib => "E1302",
            Violation::UnlicensedGuest => "E1601",
            Violation::DriverBranch => "E1701",
            Violation::CudaDriver => "E1702",
            Violation::VmotionPassthrough => "E1801",
            Violation::BitfusionShare => "E2003",
            Violation::BitfusionGpus => "E2005",
        }
    }
}

/// The shape of one host, drawn from the seed.
struct HostShape {
    /// Index into `PASSTHROUGH_BOARDS` for g0 and g1.
    pt_board: usize,
    /// Index into `VGPU_BOARDS` for g2 and g3.
    vgpu_board: usize,
    /// One passthrough VM with both GPUs, or two with one each.
    pt_split: bool,
    /// vGPU VMs on this host (8 or 9, within what its two vGPU GPUs take).
    vgpu_vms: usize,
    /// Memory of each vGPU VM, GiB.
    vgpu_mem: u32,
}

impl HostShape {
    fn draw(rng: &mut Rng) -> Self {
        HostShape {
            pt_board: rng.below(PASSTHROUGH_BOARDS.len()),
            vgpu_board: rng.below(VGPU_BOARDS.len()),
            pt_split: rng.below(2) == 0,
            vgpu_vms: 8 + rng.below(2),
            vgpu_mem: [32, 64, 96, 128][rng.below(4)],
        }
    }

    /// The passthrough VMs of host `h`: (name, GPUs).
    fn pt_vms(&self, h: usize) -> Vec<(String, &'static [&'static str])> {
        if self.pt_split {
            vec![(format!("pt{h:05}a"), &["g0"]), (format!("pt{h:05}b"), &["g1"])]
        } else {
            vec![(format!("pt{h:05}a"), &["g0", "g1"])]
        }
    }
}

fn host_name(h: usize) -> String {
    format!("esx{h:05}")
}

/// A valid estate of `hosts` hosts (about ten VMs each) in one file.
pub fn estate(hosts: usize, seed: u64) -> String {
    estate_with_violations(hosts, seed, 0)
}

/// An estate of `hosts` hosts with `k` violations of each rule in [`Violation::ALL`] planted,
/// spread over the hosts (several on one host when there are fewer hosts than violations).
/// With `k == 0` it is [`estate`].
pub fn estate_with_violations(hosts: usize, seed: u64, k: usize) -> String {
    let (header, racks, pool) = parts(hosts, seed, k, 1);
    let mut out = header;
    for rack in racks {
        out.push_str(&rack);
    }
    out.push_str(&pool);
    out
}

/// The same valid estate as [`estate`] split into a top file, `estate.gpu`, holding the licence
/// and the Bitfusion pool and importing `files` rack files, `racks/rackNNN.gpu`, each with a
/// contiguous share of the hosts and their VMs. Paths are relative to the output folder.
pub fn estate_files(hosts: usize, seed: u64, files: usize) -> Vec<(String, String)> {
    let files = files.max(1);
    let (header, racks, pool) = parts(hosts, seed, 0, files);
    let mut top = String::new();
    for r in 0..racks.len() {
        let _ = writeln!(top, "import \"racks/rack{r:03}.gpu\"");
    }
    top.push('\n');
    top.push_str(&header);
    top.push_str(&pool);
    let mut out = vec![("estate.gpu".to_string(), top)];
    for (r, rack) in racks.into_iter().enumerate() {
        out.push((format!("racks/rack{r:03}.gpu"), format!("# rack {r}, generated by benches/fleet\n\n{rack}")));
    }
    out
}

/// (licence header, `files` chunks of hosts and VMs, Bitfusion pool).
fn parts(hosts: usize, seed: u64, k: usize, files: usize) -> (String, Vec<String>, String) {
    let mut rng = Rng::new(seed);
    let shapes: Vec<HostShape> = (0..hosts).map(|_| HostShape::draw(&mut rng)).collect();

    // Violation v's i-th instance goes to host (v * k + i) mod hosts.
    let mut faults: Vec<Vec<Violation>> = vec![Vec::new(); hosts];
    if hosts > 0 {
        for (v, &violation) in Violation::ALL.iter().enumerate() {
            for i in 0..k {
                faults[(v * k + i) % hosts].push(violation);
            }
        }
    }

    let header = format!(
        "# A generated estate: {hosts} hosts, seed {seed}{}.\n# benches/fleet: cargo run --release --example fleet -- --hosts {hosts} --seed {seed}\n\nlicense nls {{ token \"client_configuration_token_04-01-2025-10-00-00.tok\" }}\n\n",
        if k > 0 { format!(", {k} violations of each rule") } else { String::new() }
    );

    let per_file = hosts.div_ceil(files).max(1);
    let mut racks = Vec::new();
    let mut text = String::new();
    for h in 0..hosts {
        write_host(&mut text, h, &shapes[h], &faults[h]);
        if (h + 1) % per_file == 0 {
            racks.push(std::mem::take(&mut text));
        }
    }
    if !text.is_empty() || racks.is_empty() {
        racks.push(text);
    }
    while racks.len() < files {
        racks.push(String::new());
    }

    let pool = pool(hosts, &shapes, &faults);
    (header, racks, pool)
}

fn write_host(out: &mut String, h: usize, shape: &HostShape, faults: &[Violation]) {
    let has = |v: Violation| faults.contains(&v);
    let name = host_name(h);
    let (pt_board, _) = PASSTHROUGH_BOARDS[shape.pt_board];
    let (vgpu_board, vgpu_type, per_gpu) = VGPU_BOARDS[shape.vgpu_board];
    let memory = if has(Violation::HostMemory) { "256GiB" } else { "2TiB" };
    let above_4g = if has(Violation::Above4gOff) { "false" } else { "true" };
    let vib = if has(Violation::RelativeVib) { VIB.trim_start_matches('/') } else { VIB };
    let _ = write!(
        out,
        "host {name} {{\n  address \"{name}.fleet.example.com\"\n  esxi    \"8.0 U3\"\n  memory  {memory}\n  bios    {{ above_4g_decoding {above_4g}  sr_iov true }}\n  nvidia  {{\n    product   ai_enterprise\n    vib       \"{vib}\"\n    release   \"17.1\"\n    scheduler equal_share\n  }}\n"
    );
    let models = [pt_board, pt_board, vgpu_board, vgpu_board];
    let uses = ["passthrough", "passthrough", "vgpu", "vgpu"];
    for g in 0..4 {
        let mut pci = PCI[g].to_string();
        let mut model = models[g].to_string();
        if g == 1 && has(Violation::BadPci) {
            pci = "0000:31:20.0".to_string();
        }
        if g == 3 && has(Violation::DuplicatePci) {
            pci = PCI[2].to_string();
        }
        if g == 3 && has(Violation::UnknownModel) {
            model.push('x');
        }
        let mode = if uses[g] == "vgpu" { "  mode same_size" } else { "" };
        let _ = writeln!(out, "  gpu g{g} {{ model {model}  pci {pci}  use {}{mode} }}", uses[g]);
    }
    out.push_str("}\n\n");

    // Passthrough VMs: the GPUs' framebuffer x 1.5 of memory, rounded to a power of two.
    for (i, (vm, gpus)) in shape.pt_vms(h).into_iter().enumerate() {
        let memory = if gpus.len() == 2 { 256 } else { 128 };
        let firmware = if i == 0 && has(Violation::BiosFirmware) { "bios" } else { "efi" };
        let _ = write!(out, "vm {vm} {{\n  host        {name}\n  memory      {memory}GiB\n  cpus        16\n  firmware    {firmware}\n");
        let list: Vec<String> = gpus.iter().map(|g| format!("{name}.{g}")).collect();
        let _ = writeln!(out, "  passthrough {}", list.join(", "));
        if i == 0 {
            if has(Violation::PartialReservation) {
                out.push_str("  reservation 32GiB\n");
            }
            if has(Violation::MmioTooSmall) {
                out.push_str("  mmio        16GiB\n");
            } else if has(Violation::MmioNotPow2) {
                out.push_str("  mmio        768GiB\n");
            }
            if has(Violation::VmotionPassthrough) {
                out.push_str("  vmotion     true\n");
            }
        }
        let _ = writeln!(out, "  {GUEST}\n}}\n");
        if i == 0 && has(Violation::SharedPassthrough) {
            let _ = writeln!(
                out,
                "vm {vm}-thief {{\n  host        {name}\n  memory      64GiB\n  firmware    efi\n  passthrough {name}.g0\n  {GUEST}\n}}\n"
            );
        }
        if i == 0 && has(Violation::DuplicateVm) {
            let _ = writeln!(out, "vm {vm} {{\n  host   {name}\n  memory 8GiB\n}}\n");
        }
    }

    // vGPU VMs, placed by the compiler (performance: spread over g2 and g3).
    for i in 0..shape.vgpu_vms {
        let vm = format!("vg{h:05}-{i}");
        let mem = shape.vgpu_mem;
        let mut ty = vgpu_type.to_string();
        let mut guest = GUEST.to_string();
        if i == 0 && has(Violation::UnknownVgpuType) {
            ty = ty.replace('c', "x");
        }
        if i == 1 && has(Violation::UnlicensedGuest) {
            guest = guest.replace("  license nls", "");
        }
        if i == 2 && has(Violation::DriverBranch) {
            guest = guest.replace("550.54.15", "535.104.05");
        }
        if i == 3 && has(Violation::CudaDriver) {
            guest = guest.replace("\"12.4\"", "\"13.0\"");
        }
        let _ = writeln!(out, "vm {vm} {{\n  host   {name}\n  memory {mem}GiB\n  cpus   8\n  firmware efi\n  vgpu   {ty}\n  {guest}\n}}\n");
    }
    if has(Violation::VgpuOverCapacity) {
        // Pinned VMs are placed first: one more than the type allows on g2.
        for i in 0..=per_gpu {
            let _ = writeln!(
                out,
                "vm vg{h:05}-over{i} {{\n  host   {name}\n  memory 16GiB\n  firmware efi\n  vgpu   {vgpu_type} on {name}.g2\n  {GUEST}\n}}\n"
            );
        }
    }
    if has(Violation::VgpuOnPassthroughGpu) {
        let _ = writeln!(
            out,
            "vm vg{h:05}-pinned {{\n  host   {name}\n  memory 16GiB\n  firmware efi\n  vgpu   {vgpu_type} on {name}.g1\n  {GUEST}\n}}\n"
        );
    }
    if has(Violation::UnknownHost) {
        let _ = writeln!(out, "vm ghost{h:05} {{\n  host   esx{h:05}x\n  memory 8GiB\n}}\n");
    }
}

/// A vSphere Bitfusion pool: servers are the first passthrough VM of every 7th host (at most
/// four), clients are addresses outside the estate.
fn pool(hosts: usize, shapes: &[HostShape], faults: &[Vec<Violation>]) -> String {
    let servers: Vec<(String, usize)> = (0..hosts)
        .step_by(BITFUSION_EVERY)
        .take(BITFUSION_SERVERS)
        .map(|h| {
            let (vm, gpus) = shapes[h].pt_vms(h).swap_remove(0);
            (vm, gpus.len())
        })
        .collect();
    if servers.is_empty() {
        return String::new();
    }
    let all_faults: Vec<Violation> = faults.iter().flatten().copied().collect();
    let count = |v: Violation| all_faults.iter().filter(|&&f| f == v).count();
    let total_gpus: usize = servers.iter().map(|(_, g)| g).sum();
    let names: Vec<&str> = servers.iter().map(|(n, _)| n.as_str()).collect();

    let mut out = String::from("bitfusion fleet {\n  bitfusion \"2.5\"\n");
    for (i, (vm, _)) in servers.iter().enumerate() {
        let _ = writeln!(out, "  server {vm} {{ address \"10.200.0.{}\" }}", i + 1);
    }
    let clients = BITFUSION_CLIENTS + count(Violation::BitfusionShare) + count(Violation::BitfusionGpus);
    let mut bad_share = count(Violation::BitfusionShare);
    let mut bad_gpus = count(Violation::BitfusionGpus);
    for c in 0..clients {
        let mut share = ["0.25", "0.5", "1"][c % 3];
        let mut gpus = 1 + c % total_gpus.min(2);
        if bad_share > 0 && c >= BITFUSION_CLIENTS {
            share = "1.5";
            bad_share -= 1;
        } else if bad_gpus > 0 && c >= BITFUSION_CLIENTS {
            gpus = total_gpus + 1;
            bad_gpus -= 1;
        }
        let _ = writeln!(
            out,
            "  client bfc{c:04} {{ address \"10.201.{}.{}\"  gpus {gpus}  share {share}  memory 8192MiB  servers {} }}",
            c / 250,
            c % 250 + 1,
            names.join(", ")
        );
    }
    out.push_str("}\n");
    out
}
