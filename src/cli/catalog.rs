//! `gpuc catalog`: the GPU boards and their vGPU types as the compiler knows them (built-in,
//! plus `--catalog` files and the `catalog` statements of the given specs), with each type's
//! NVIDIA name, vSphere profile string, maxima, product and first release, so that a spec
//! names types the way vSphere will accept them.

use super::{usage_error, EXIT_SPEC, EXIT_USAGE};
use crate::catalog::{Board, Catalog, Product, Series, VgpuType};
use crate::diagnostics::suggest;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Serialize)]
struct JsonCatalog<'c> {
    boards: Vec<JsonBoard<'c>>,
}

#[derive(Serialize)]
struct JsonBoard<'c> {
    id: &'c str,
    name: &'c str,
    aliases: &'c [String],
    architecture: String,
    device_id: String,
    gpus_per_board: u32,
    framebuffer_mib: u64,
    bar1_mib: u64,
    mmio_gib: Option<u64>,
    products: Vec<&'static str>,
    first_release: Option<String>,
    last_release: Option<String>,
    mig: Option<JsonMig<'c>>,
    vgpu_types: Vec<JsonType<'c>>,
    sources: &'c std::collections::BTreeMap<String, String>,
    notes: &'c [String],
}

#[derive(Serialize)]
struct JsonMig<'c> {
    slots: u32,
    instances: Vec<JsonInstance<'c>>,
}

#[derive(Serialize)]
struct JsonInstance<'c> {
    profile: &'c str,
    size: u32,
    starts: &'c [u32],
    max: Option<u32>,
}

#[derive(Serialize)]
struct JsonType<'c> {
    name: &'c str,
    /// The string vSphere shows and stores (`pciPassthruN.vgpu`).
    profile: &'c str,
    series: String,
    framebuffer_mib: u64,
    max: u32,
    mixed_max: Option<u32>,
    /// The GPU instance profile of a MIG-backed type.
    gpu_instance: Option<&'c str>,
    product: &'static str,
    first_release: Option<String>,
    /// Where the profile string and the counts come from.
    source: &'c str,
}

fn json_board(board: &Board) -> JsonBoard<'_> {
    let board_source = board.sources.get("profile").or(board.sources.get("vgpu")).map_or("", String::as_str);
    JsonBoard {
        id: &board.id,
        name: &board.name,
        aliases: &board.aliases,
        architecture: format!("{:?}", board.architecture).to_ascii_lowercase(),
        device_id: format!("{:04x}", board.device_id),
        gpus_per_board: board.gpus_per_board,
        framebuffer_mib: board.framebuffer.as_mib_ceil(),
        bar1_mib: board.bar1.as_mib_ceil(),
        mmio_gib: board.mmio.map(|m| m.as_gib_ceil()),
        products: board.products.iter().map(|p| p.keyword()).collect(),
        first_release: board.first_release.map(|r| r.to_string()),
        last_release: board.last_release.map(|r| r.to_string()),
        mig: board.mig.as_ref().map(|m| JsonMig {
            slots: m.slots,
            instances: m
                .instances
                .iter()
                .map(|i| JsonInstance { profile: &i.profile, size: i.size, starts: &i.starts, max: i.max })
                .collect(),
        }),
        vgpu_types: board
            .vgpu_types
            .iter()
            .map(|t| JsonType {
                name: &t.name,
                profile: &t.profile,
                series: format!("{:?}", t.series),
                framebuffer_mib: t.framebuffer.as_mib_ceil(),
                max: t.max,
                mixed_max: t.mixed_max,
                gpu_instance: board.mig_instance(t).map(|i| i.profile.as_str()),
                product: t.product().keyword(),
                first_release: t.first_release.or(board.first_release).map(|r| r.to_string()),
                source: t.source.as_deref().unwrap_or(board_source),
            })
            .collect(),
        sources: &board.sources,
        notes: &board.notes,
    }
}

/// One line per type: name, profile, series, framebuffer, maxima, product.
fn human_board(out: &mut impl Write, board: &Board) -> std::io::Result<()> {
    let products: Vec<&str> = board.products.iter().map(|p| p.title()).collect();
    let releases = match (board.first_release, board.last_release) {
        (Some(first), Some(last)) => format!("; vGPU {first} to {}.x", last.major()),
        (Some(first), None) => format!("; from vGPU {first}"),
        _ => String::new(),
    };
    writeln!(
        out,
        "{} ({}{})",
        board.name,
        board.id,
        if board.aliases.is_empty() { String::new() } else { format!("; {}", board.aliases.join(", ")) }
    )?;
    writeln!(out, "  {:?}, {} per GPU, on vSphere with {}{releases}", board.architecture, board.framebuffer, products.join(" or "))?;
    if let Some(mig) = &board.mig {
        let instances: Vec<&str> = mig.instances.iter().map(|i| i.profile.as_str()).collect();
        writeln!(out, "  MIG: {} slots; GPU instances {}", mig.slots, instances.join(", "))?;
    }
    if board.vgpu_types.is_empty() {
        writeln!(out, "  no vGPU types")?;
    } else {
        writeln!(
            out,
            "  {:<16} {:<22} {:<6} {:>11} {:>4} {:>5}  {:<12} PRODUCT",
            "NAME", "PROFILE (vSphere)", "SERIES", "FRAMEBUFFER", "MAX", "MIXED", "MIG"
        )?;
        for t in &board.vgpu_types {
            type_line(out, board, t)?;
        }
    }
    for note in &board.notes {
        writeln!(out, "  note: {note}")?;
    }
    writeln!(out)
}

fn type_line(out: &mut impl Write, board: &Board, t: &VgpuType) -> std::io::Result<()> {
    let mixed = t.mixed_max.map_or_else(|| "-".to_string(), |m| m.to_string());
    let mig = board.mig_instance(t).map_or("-", |i| i.profile.as_str());
    let series = match t.series {
        Series::Q => "Q",
        Series::B => "B",
        Series::A => "A",
        Series::C => "C",
    };
    let product = match t.product() {
        Product::Vgpu => "NVIDIA vGPU",
        Product::AiEnterprise => "NVIDIA AI Enterprise",
    };
    writeln!(
        out,
        "  {:<16} {:<22} {:<6} {:>11} {:>4} {:>5}  {:<12} {product}",
        t.name,
        t.profile,
        series,
        t.framebuffer.to_string(),
        t.max,
        mixed,
        mig
    )
}

/// The catalog of the given specs (or the built-in one), one board or all.
pub(super) fn run(paths: &[PathBuf], catalogs: &[PathBuf], board: Option<&str>, json: bool) -> ExitCode {
    let files = match super::expand(paths) {
        Ok(files) => files,
        Err(e) => return usage_error(&e),
    };
    let input = crate::Input { files, catalogs: catalogs.to_vec(), ..Default::default() };
    let checked = match crate::check(&input, &super::RealFileSystem) {
        Ok(checked) => checked,
        Err(unreadable) => return usage_error(&unreadable.to_string()),
    };
    // Only a broken catalog stops the listing; the specs' own problems are `gpuc check`'s.
    let broken: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == crate::diagnostics::Code::CatalogInvalid).collect();
    if !broken.is_empty() {
        let mut err = std::io::stderr().lock();
        for d in broken {
            let _ = write!(err, "{}", crate::diagnostics::render::human(d, &checked.sources, super::color_wanted(), 100));
        }
        return ExitCode::from(EXIT_SPEC);
    }
    let catalog: &Catalog = &checked.model.catalog;
    let boards: Vec<&Board> = match board {
        Some(name) => match catalog.find(name) {
            Some(id) => vec![catalog.board(id)],
            None => {
                let help = suggest::help_for(name, "board", catalog.all_names());
                return usage_error(&format!("no board `{name}` in the catalog: {help}; `gpuc catalog` lists every board"));
            }
        },
        None => catalog.boards().map(|(_, b)| b).collect(),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &JsonCatalog { boards: boards.into_iter().map(json_board).collect() })
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        boards.into_iter().try_for_each(|b| human_board(&mut out, b))
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}
