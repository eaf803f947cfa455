//! The GPU catalog: data, not code. `boards.yaml` is compiled into the binary; users add or
//! override boards with their own YAML file of the same shape, validated with spanned
//! diagnostics. Every figure keeps its source in the board's `sources` map.

use crate::diagnostics::{Code, Diagnostic};
use crate::quantity::{ByteSize, Version};
use crate::source::{FileId, Span};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The built-in catalog text.
pub const BUILTIN_YAML: &str = include_str!("boards.yaml");
pub const BUILTIN_NAME: &str = "<builtin catalog>";

/// Index of a board in [`Catalog::boards`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoardId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Maxwell,
    Pascal,
    Volta,
    Turing,
    Ampere,
    Ada,
    Hopper,
    Blackwell,
}

/// vGPU series: the licensed product each maps to (NVIDIA client licensing guide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Series {
    /// RTX vWS (Quadro vDWS): workstation graphics and CUDA.
    Q,
    /// vPC: business desktops.
    B,
    /// vApps: RDSH and application streaming.
    A,
    /// vCS / NVIDIA AI Enterprise: compute only; introduced in vGPU 9.0.
    C,
}

/// The NVIDIA host driver a vSphere host runs: the product decides which vGPU series the
/// host offers (NVIDIA vGPU 17 User Guide §2.1.1, §2.9.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// "NVIDIA vGPU" (NVD-VGPU host driver): Q, B and A series.
    Vgpu,
    /// "NVIDIA AI Enterprise" (NVD-AIE host driver): C series (vGPU for Compute).
    AiEnterprise,
}

impl Product {
    pub fn title(self) -> &'static str {
        match self {
            Product::Vgpu => "NVIDIA vGPU",
            Product::AiEnterprise => "NVIDIA AI Enterprise",
        }
    }

    /// How the spec writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            Product::Vgpu => "vgpu",
            Product::AiEnterprise => "ai_enterprise",
        }
    }
}

/// A GPU instance profile of a MIG-capable board (`3g.40gb`): how many memory slots it takes
/// and where it may start (NVIDIA MIG User Guide, supported profiles and placements).
#[derive(Clone, Debug)]
pub struct MigInstance {
    pub profile: String,
    pub size: u32,
    pub starts: Vec<u32>,
    /// At most this many on one GPU (media-extension profiles), beyond what placement allows.
    pub max: Option<u32>,
}

/// The MIG geometry of a board: slots to place GPU instances in.
#[derive(Clone, Debug)]
pub struct Mig {
    pub slots: u32,
    pub instances: Vec<MigInstance>,
}

#[derive(Clone, Debug)]
pub struct VgpuType {
    /// NVIDIA's name of the type, as in the vGPU user guide tables (`A40-8Q`).
    pub name: String,
    /// The string vSphere shows and stores (`VirtualPCIPassthroughVmiopBackingInfo.vgpu`,
    /// `pciPassthruN.vgpu`): `nvidia_a40-8q`, `grid_p100-8q`.
    pub profile: String,
    pub series: Series,
    pub framebuffer: ByteSize,
    /// Most vGPUs of this type on one physical GPU in same-size (equal-size) mode.
    pub max: u32,
    /// The same in mixed-size mode, where NVIDIA publishes one.
    pub mixed_max: Option<u32>,
    /// For a MIG-backed type: the index of its GPU instance profile in the board's `mig`.
    pub gpu_instance: Option<usize>,
    /// The first release that offers the type, when later than the board's.
    pub first_release: Option<Version>,
    /// Where the type's facts come from, when not the board's `vgpu` source.
    pub source: Option<String>,
}

impl VgpuType {
    /// The product whose host driver offers the type on vSphere: C-series only with NVIDIA AI
    /// Enterprise (NVIDIA vGPU 17 User Guide §2.9.4: "C-series vGPU types are not available").
    pub fn product(&self) -> Product {
        if self.series == Series::C {
            Product::AiEnterprise
        } else {
            Product::Vgpu
        }
    }

    /// Whether `written` names this type: NVIDIA's name (with or without the `GRID ` prefix of
    /// the older guides) or vSphere's profile string, in any case.
    pub fn is_named(&self, written: &str) -> bool {
        let written = written.trim();
        let bare = written.get(..5).filter(|p| p.eq_ignore_ascii_case("grid ")).map_or(written, |_| written[5..].trim_start());
        self.profile.eq_ignore_ascii_case(written) || self.name.eq_ignore_ascii_case(bare)
    }
}

/// `a40-8q` from `nvidia_a40-8q` or `grid_a40-8q`: the profile without its vendor prefix, to
/// recognise a profile written with the wrong prefix.
pub fn profile_token(profile: &str) -> &str {
    let lower_prefix = |p: &str| profile.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p));
    ["grid_", "nvidia_"].into_iter().find(|p| lower_prefix(p)).map_or(profile, |p| &profile[p.len()..])
}

#[derive(Clone, Debug)]
pub struct Board {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub architecture: Architecture,
    /// PCI device id; the vendor is NVIDIA, 0x10de.
    pub device_id: u16,
    pub gpus_per_board: u32,
    /// Framebuffer of one physical GPU.
    pub framebuffer: ByteSize,
    /// The 64-bit prefetchable BAR1 of one physical GPU.
    pub bar1: ByteSize,
    /// NVIDIA's published "MMIO space required" for one GPU, where the board is listed.
    pub mmio: Option<ByteSize>,
    pub ecc_default: bool,
    /// The host drivers that support the board on vSphere.
    pub products: Vec<Product>,
    /// The first and last NVIDIA vGPU software release that support the board.
    pub first_release: Option<Version>,
    pub last_release: Option<Version>,
    pub mig: Option<Mig>,
    pub vgpu_types: Vec<VgpuType>,
    /// Each type's lower-cased profile and name to its index, first type first: every VM's
    /// vGPU is looked up several times, and a linear case-insensitive scan of up to 40 types
    /// per lookup was a tenth of a large estate's build.
    type_index: FxHashMap<String, usize>,
    pub sources: BTreeMap<String, String>,
    /// Where sources disagree, or what stays unconfirmed.
    pub notes: Vec<String>,
    /// Where the board was defined (the built-in YAML or the user's file).
    pub span: Span,
}

pub const NVIDIA_VENDOR_ID: u16 = 0x10de;

/// BARs of up to this size fit below 4 GB and boot with BIOS firmware (T4, M60); larger
/// ones need EFI (Denneman 2023; ref §1.2, §6).
pub const SMALL_BAR1: ByteSize = ByteSize::mib(256);

/// BAR0 (16 MB) plus BAR3 (32 MB) that every NVIDIA GPU maps beside BAR1 (ref §3.1).
pub const BAR0_PLUS_BAR3: ByteSize = ByteSize::mib(48);

impl Board {
    /// The GPU maps more than 16 GB: the guide's "high-end" card (seed §5.1, §5.2.2).
    pub fn maps_over_16gb(&self) -> bool {
        self.bar1.0 + BAR0_PLUS_BAR3.0 > ByteSize::gib(16).0
    }

    /// BAR1 above 256 MB needs EFI firmware (R5).
    pub fn large_bar(&self) -> bool {
        self.bar1 > SMALL_BAR1
    }

    /// 64-bit MMIO one GPU of this board needs: NVIDIA's table, else 2 x BAR1 (ref §3.2).
    pub fn mmio_need(&self) -> ByteSize {
        self.mmio.unwrap_or(ByteSize(self.bar1.0.saturating_mul(2)))
    }

    /// A type by NVIDIA's name or by vSphere's profile string. Names as lowering keeps them
    /// (lower case) are found in the index; any other spelling by [`VgpuType::is_named`].
    pub fn vgpu_type(&self, name: &str) -> Option<&VgpuType> {
        match self.type_index.get(name) {
            Some(&index) => Some(&self.vgpu_types[index]),
            None => self.vgpu_types.iter().find(|t| t.is_named(name)),
        }
    }

    /// The type a misspelt profile means: `grid_a40-8q` for `nvidia_a40-8q`.
    pub fn vgpu_type_by_token(&self, name: &str) -> Option<&VgpuType> {
        let token = profile_token(name);
        self.vgpu_types.iter().find(|t| profile_token(&t.profile).eq_ignore_ascii_case(token))
    }

    pub fn mig_instance(&self, kind: &VgpuType) -> Option<&MigInstance> {
        Some(&self.mig.as_ref()?.instances[kind.gpu_instance?])
    }

    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// All boards, built-in first, then the user's (which may replace built-in ones by id).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    boards: Vec<Board>,
    by_name: HashMap<String, BoardId>,
}

impl Catalog {
    pub fn boards(&self) -> impl Iterator<Item = (BoardId, &Board)> {
        self.boards.iter().enumerate().map(|(i, b)| (BoardId(i as u32), b))
    }

    pub fn board(&self, id: BoardId) -> &Board {
        &self.boards[id.0 as usize]
    }

    /// A board by id or alias, case-insensitively.
    pub fn find(&self, name: &str) -> Option<BoardId> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// Every board name and alias, for did-you-mean.
    pub fn all_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.boards.iter().flat_map(Board::names)
    }

    /// Every vGPU type of every board, by vSphere's profile string, for did-you-mean.
    pub fn all_vgpu_types(&self) -> impl Iterator<Item = &str> + Clone {
        self.boards.iter().flat_map(|b| b.vgpu_types.iter().map(|t| t.profile.as_str()))
    }

    /// The boards that offer a vGPU type of this name.
    pub fn boards_with_type<'a>(&'a self, name: &'a str) -> impl Iterator<Item = BoardId> + 'a {
        self.boards().filter(move |(_, b)| b.vgpu_type(name).is_some()).map(|(id, _)| id)
    }

    /// Adds boards; one whose id already exists replaces the earlier board, keeping its slot.
    /// An alias that names a different board is an error.
    pub fn extend(&mut self, boards: Vec<Board>) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for board in boards {
            let slot = match self.by_name.get(&board.id.to_ascii_lowercase()) {
                Some(&existing) if self.boards[existing.0 as usize].id.eq_ignore_ascii_case(&board.id) => {
                    self.by_name.retain(|_, id| *id != existing);
                    self.boards[existing.0 as usize] = board;
                    existing
                }
                _ => {
                    self.boards.push(board);
                    BoardId(self.boards.len() as u32 - 1)
                }
            };
            let board = &self.boards[slot.0 as usize];
            for name in board.names() {
                let key = name.to_ascii_lowercase();
                match self.by_name.get(&key) {
                    Some(&other) if other != slot => {
                        let first = &self.boards[other.0 as usize];
                        problems.push(
                            Diagnostic::new(
                                Code::CatalogInvalid,
                                format!("`{name}` already names board `{}`", first.id),
                                board.span,
                                "this board reuses the name",
                            )
                            .with_label(first.span, "first named here")
                            .with_help("give each board ids and aliases of its own, or reuse the id to replace the board"),
                        );
                    }
                    _ => {
                        self.by_name.insert(key, slot);
                    }
                }
            }
        }
        problems
    }

    /// The built-in catalog, parsed once per process. Its text must be registered as
    /// `file` (the loader always makes it file 0, which is what the cache assumes).
    pub fn builtin(file: FileId) -> &'static Result<Catalog, Vec<Diagnostic>> {
        static BUILTIN: std::sync::OnceLock<Result<Catalog, Vec<Diagnostic>>> = std::sync::OnceLock::new();
        debug_assert_eq!(file, FileId(0));
        BUILTIN.get_or_init(|| {
            let boards = parse_boards(file, BUILTIN_YAML)?;
            let mut catalog = Catalog::default();
            let problems = catalog.extend(boards);
            if problems.is_empty() {
                Ok(catalog)
            } else {
                Err(problems)
            }
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    boards: Vec<RawBoard>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    architecture: Architecture,
    device_id: String,
    #[serde(default = "one")]
    gpus_per_board: u32,
    framebuffer: String,
    bar1: String,
    #[serde(default)]
    mmio: Option<String>,
    ecc_default: bool,
    /// Both products when not given (a user's board of unknown support).
    #[serde(default)]
    products: Option<Vec<Product>>,
    #[serde(default)]
    first_release: Option<String>,
    #[serde(default)]
    last_release: Option<String>,
    #[serde(default)]
    mig: Option<RawMig>,
    #[serde(default)]
    vgpu_types: Vec<RawVgpuType>,
    sources: BTreeMap<String, String>,
    #[serde(default)]
    notes: Vec<String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMig {
    slots: u32,
    instances: Vec<RawMigInstance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigInstance {
    profile: String,
    size: u32,
    starts: Vec<u32>,
    #[serde(default)]
    max: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVgpuType {
    name: String,
    profile: String,
    series: Series,
    framebuffer: String,
    max: u32,
    #[serde(default)]
    mixed_max: Option<u32>,
    #[serde(default)]
    gpu_instance: Option<String>,
    #[serde(default)]
    first_release: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// Parses and validates a catalog file. Shape errors come from serde_yaml with their line;
/// value errors point at the offending field of the board.
pub fn parse_boards(file: FileId, text: &str) -> Result<Vec<Board>, Vec<Diagnostic>> {
    let raw: RawCatalog = serde_yaml::from_str(text).map_err(|e| {
        let span = match e.location() {
            Some(loc) => token_at(file, text, loc.index()),
            None => Span::new(file, 0, 0),
        };
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        vec![Diagnostic::new(Code::CatalogInvalid, format!("invalid GPU catalog: {message}"), span, "here")
            .with_help("a catalog is `boards:` followed by a list of boards; see `gpuc explain E0010` for every field")]
    })?;
    let mut problems = Vec::new();
    let mut boards = Vec::new();
    // Boards are found in file order, each after the one before (a search of the whole text
    // per board was a tenth of a one-host build).
    let mut board_from = 0;
    for rb in raw.boards {
        let id_at = find_word(text, &rb.id, board_from).or_else(|| find_word(text, &rb.id, 0)).unwrap_or(0);
        board_from = id_at;
        let at = |field: &str| locate(file, text, &rb.id, field);
        let mut size = |field: &str, value: &str| match ByteSize::parse_text(value) {
            Ok(s) => s,
            Err(why) => {
                problems.push(bad_field(at(field), &rb.id, field, &why));
                ByteSize(0)
            }
        };
        let framebuffer = size("framebuffer", &rb.framebuffer);
        let bar1 = size("bar1", &rb.bar1);
        let mmio = rb.mmio.as_deref().map(|m| size("mmio", m));
        let device_id = u16::from_str_radix(rb.device_id.trim_start_matches("0x"), 16).unwrap_or_else(|_| {
            problems.push(bad_field(at("device_id"), &rb.id, "device_id", "write the PCI device id as four hex digits, e.g. \"15f8\""));
            0
        });
        if rb.gpus_per_board == 0 {
            problems.push(bad_field(at("gpus_per_board"), &rb.id, "gpus_per_board", "a board has at least one GPU"));
        }
        for key in ["pci", "bar1"] {
            if !rb.sources.contains_key(key) {
                problems.push(bad_field(at("sources"), &rb.id, "sources", &format!("every figure needs a source: add `{key}:`")));
            }
        }
        if !rb.vgpu_types.is_empty() && !rb.sources.contains_key("vgpu") {
            problems.push(bad_field(at("sources"), &rb.id, "sources", "the vGPU types need a source: add `vgpu:`"));
        }
        let mut version = |field: &str, value: Option<&str>| {
            let text = value?;
            let parsed = Version::parse(text);
            if parsed.is_none() {
                problems.push(bad_field(at(field), &rb.id, field, "write a vGPU software release such as \"17.0\""));
            }
            parsed
        };
        let first_release = version("first_release", rb.first_release.as_deref());
        let last_release = version("last_release", rb.last_release.as_deref());
        let mig = rb.mig.map(|m| mig_geometry(m, file, text, &rb.id, &mut problems));
        let mut types: Vec<VgpuType> = Vec::new();
        for rt in rb.vgpu_types {
            // Found only for a message: searching the catalog text for every type cost a one-host
            // check two thirds of its time.
            let tspan = || locate(file, text, &rb.id, &rt.name);
            let fb = ByteSize::parse_text(&rt.framebuffer).unwrap_or_else(|why| {
                problems.push(bad_field(tspan(), &rb.id, &rt.name, &why));
                ByteSize(0)
            });
            for (field, value) in [("max", Some(rt.max)), ("mixed_max", rt.mixed_max)] {
                if value == Some(0) {
                    let at = find_word(text, field, tspan().start as usize).map_or(tspan(), |p| Span::new(file, p, p + field.len()));
                    problems.push(bad_field(
                        at,
                        &rb.id,
                        &format!("{}.{field}", rt.name),
                        "a vGPU type fits at least once on its GPU: give 1 or more",
                    ));
                }
            }
            // MIG-backed sizes are NVIDIA's rounded instance sizes (2 x 71 GB on a 141 GB H200):
            // their bound is the MIG geometry, not the framebuffer.
            if rt.gpu_instance.is_none() && fb.0.saturating_mul(u64::from(rt.max)) > framebuffer.0 && framebuffer.0 > 0 {
                problems.push(bad_field(
                    tspan(),
                    &rb.id,
                    &rt.name,
                    &format!("{} x {fb} is more than the GPU's {framebuffer} framebuffer", rt.max),
                ));
            }
            if types.iter().any(|t| t.name.eq_ignore_ascii_case(&rt.name)) {
                problems.push(bad_field(tspan(), &rb.id, &rt.name, "the type is listed twice"));
            }
            if types.iter().any(|t| t.profile.eq_ignore_ascii_case(&rt.profile)) {
                problems.push(bad_field(tspan(), &rb.id, &rt.profile, "two types have this vSphere profile string"));
            }
            if !rt.profile.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                problems.push(bad_field(tspan(), &rb.id, &rt.name, "a vSphere profile string is letters, digits, `_` and `-`"));
            }
            let gpu_instance = rt.gpu_instance.as_deref().and_then(|instance| {
                let found = mig.as_ref().and_then(|m| m.instances.iter().position(|i| i.profile == instance));
                if found.is_none() {
                    problems.push(bad_field(
                        tspan(),
                        &rb.id,
                        &rt.name,
                        &format!("`gpu_instance: {instance}` is not a profile of the board's `mig.instances`"),
                    ));
                }
                found
            });
            let type_release = rt.first_release.as_deref().and_then(|r| {
                let parsed = Version::parse(r);
                if parsed.is_none() {
                    problems.push(bad_field(tspan(), &rb.id, &rt.name, "write `first_release` as a release such as \"16.1\""));
                }
                parsed
            });
            types.push(VgpuType {
                name: rt.name,
                profile: rt.profile.to_ascii_lowercase(),
                series: rt.series,
                framebuffer: fb,
                max: rt.max,
                mixed_max: rt.mixed_max,
                gpu_instance,
                first_release: type_release,
                source: rt.source,
            });
        }
        boards.push(Board {
            span: Span::new(file, id_at, id_at + rb.id.len()),
            id: rb.id.to_ascii_lowercase(),
            name: rb.name,
            aliases: rb.aliases.iter().map(|a| a.to_ascii_lowercase()).collect(),
            architecture: rb.architecture,
            device_id,
            gpus_per_board: rb.gpus_per_board,
            framebuffer,
            bar1,
            mmio,
            ecc_default: rb.ecc_default,
            products: rb.products.unwrap_or_else(|| vec![Product::Vgpu, Product::AiEnterprise]),
            first_release,
            last_release,
            mig,
            type_index: type_index(&types),
            vgpu_types: types,
            sources: rb.sources,
            notes: rb.notes,
        });
    }
    if problems.is_empty() {
        Ok(boards)
    } else {
        Err(problems)
    }
}

/// The index of [`Board::vgpu_type`]: profile then name of each type in order, the first
/// type to claim a key keeping it, as the linear scan would find it.
fn type_index(types: &[VgpuType]) -> FxHashMap<String, usize> {
    let mut index = FxHashMap::default();
    for (i, t) in types.iter().enumerate() {
        for key in [t.profile.to_ascii_lowercase(), t.name.to_ascii_lowercase()] {
            index.entry(key).or_insert(i);
        }
    }
    index
}

/// A board's MIG geometry, each placement within the board's slots.
fn mig_geometry(raw: RawMig, file: FileId, text: &str, board: &str, problems: &mut Vec<Diagnostic>) -> Mig {
    for instance in &raw.instances {
        let fits = instance.size > 0 && instance.starts.iter().all(|&start| start.saturating_add(instance.size) <= raw.slots);
        if !fits || instance.starts.is_empty() {
            problems.push(bad_field(
                locate(file, text, board, &instance.profile),
                board,
                &instance.profile,
                &format!("every placement of a GPU instance lies within the board's {} slots", raw.slots),
            ));
        }
    }
    let instances =
        raw.instances.into_iter().map(|i| MigInstance { profile: i.profile, size: i.size, starts: i.starts, max: i.max }).collect();
    Mig { slots: raw.slots, instances }
}

fn bad_field(span: Span, board: &str, field: &str, why: &str) -> Diagnostic {
    Diagnostic::new(Code::CatalogInvalid, format!("board `{board}`: invalid `{field}`"), span, why.to_string())
        .with_help("fix the value in the catalog file; `gpuc explain E0010` lists every field and its unit")
}

/// The span of `field` (a key or a vGPU type name) inside the board whose `id` is `board`;
/// serde_yaml keeps no positions, so the text is searched, starting at the board's id line.
fn locate(file: FileId, text: &str, board: &str, field: &str) -> Span {
    let start = find_word(text, board, 0).unwrap_or(0);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if field == "id" {
        return Span::new(file, start, start + board.len());
    }
    // The board ends where the next `- id:` begins.
    let end = text[start..].find("\n  - id:").map_or(text.len(), |i| start + i);
    match find_word(&text[..end], field, line_start) {
        Some(pos) => Span::new(file, pos, pos + field.len()),
        None => Span::new(file, start, start + board.len()),
    }
}

/// First occurrence of `word` at or after `from` that is not part of a longer name.
fn find_word(text: &str, word: &str, from: usize) -> Option<usize> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut at = from;
    while let Some(i) = text.get(at..)?.find(word) {
        let pos = at + i;
        let before = text[..pos].chars().next_back();
        let after = text[pos + word.len()..].chars().next();
        if !before.is_some_and(is_name) && !after.is_some_and(is_name) {
            return Some(pos);
        }
        at = pos + word.len();
    }
    None
}

fn token_at(file: FileId, text: &str, index: usize) -> Span {
    let index = index.min(text.len());
    let len = text[index..].find(char::is_whitespace).unwrap_or(text.len() - index).max(1);
    Span::new(file, index, (index + len).min(text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid() {
        let catalog = Catalog::builtin(FileId(0)).as_ref().unwrap_or_else(|e| panic!("builtin catalog invalid: {e:#?}"));
        assert!(catalog.find("tesla-p100-16gb").is_some());
    }
}
