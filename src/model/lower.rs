//! Lowering: syntax trees plus the catalog to the typed model. Every resolution and value
//! error of the whole estate is reported in one run; an entity with a bad attribute is still
//! lowered (with the attribute left out) so that later checks see as much as possible.

use super::keys;
use super::*;
use crate::catalog::Product as HostProduct;
use crate::diagnostics::{suggest, Code, Diagnostic, Diagnostics};
use crate::load::{ParsedEntity, Streamed};
use crate::quantity;
use crate::syntax::ast::{self, Attribute, Body, EntityKind, Reference, Value, ValueKind};
use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;
use std::borrow::Cow;

mod state;
mod vm;

pub(crate) use vm::VmDraft;

/// Most names one range may declare (`vm x[1..100000000]` is refused, not expanded).
pub const MAX_RANGE: u64 = 100_000;

/// Most hosts, VMs, licences and pools an estate may declare in all, ranges expanded: four
/// times the largest estate the tool is built for (100,000 hosts with about a million VMs).
pub const MAX_ENTITIES: usize = 4_000_000;

/// Lowers parsed files, in the order given, into one model. It takes the trees so that each
/// entity's body is freed once lowered: at 100,000 hosts the trees take a gigabyte, as much as
/// the model built from them, and both need not be whole at once.
/// Past `limits.entities`, the entities read so far are still lowered and checked whole, and
/// the rest is reported as not checked.
pub(crate) fn lower<'s>(mut files: Vec<ast::File<'s>>, catalog: Catalog, limits: crate::Limits, diags: &mut Diagnostics) -> Model {
    let damaged = files.iter().flat_map(|file| file.damaged.iter().copied()).collect();
    let mut lowerer = Lowerer::new(catalog, diags, damaged, false);
    // Each entity stays in its tree, reached through `declared`, so nothing is copied.
    let mut declared: Vec<&mut ast::Entity<'s>> = Vec::new();
    let mut members: Vec<Member<'s>> = Vec::new();
    members.reserve_exact(files.iter().map(|file| file.items.len()).sum());
    'files: for file in &mut files {
        for item in &mut file.items {
            if let ast::Item::Entity(entity) = item {
                let Some(names) = lowerer.expand(entity) else { continue };
                if !lowerer.within_limit(limits, members.len(), names.len(), entity) {
                    break 'files;
                }
                members.extend(Member::all(entity, names, declared.len()));
                declared.push(entity);
            }
        }
    }
    // Licences and hosts first (their GPUs are what VMs refer to), then VM names (what pools
    // refer to), then VM bodies, then pools.
    let count = |kind| members.iter().filter(|m| m.kind == kind).count();
    lowerer.names.hosts.reserve(count(EntityKind::Host));
    lowerer.names.vms.reserve(count(EntityKind::Vm));
    for member in &members {
        match member.kind {
            EntityKind::License => lowerer.license(&member.instance(declared[member.entity])),
            EntityKind::Host => lowerer.host(&member.instance(declared[member.entity])),
            _ => {}
        }
    }
    for entity in declared.iter_mut().filter(|e| matches!(e.kind, EntityKind::License | EntityKind::Host)) {
        entity.body.entries = Vec::new();
    }
    let vm_members: Vec<&Member> = members.iter().filter(|m| m.kind == EntityKind::Vm).collect();
    lowerer.expect_vms(vm_members.len());
    let vm_slots: Vec<Option<VmId>> = vm_members.iter().map(|m| lowerer.declare_vm(&m.instance(declared[m.entity]))).collect();
    for (k, (member, slot)) in vm_members.iter().zip(vm_slots).enumerate() {
        let entity = &*declared[member.entity];
        lowerer.vm(&member.instance(entity), slot, &VmDraft::read(entity));
        // The last member of its entity (a range's members share one body): done with it.
        if vm_members.get(k + 1).is_none_or(|next| next.entity != member.entity) {
            declared[member.entity].body.entries = Vec::new();
        }
    }
    for member in members.iter().filter(|m| m.kind == EntityKind::Bitfusion) {
        lowerer.pool(&member.instance(declared[member.entity]));
    }
    lowerer.model
}

/// Lowers entities as the parser hands them over, each as soon as it arrives, so that no
/// tree of the whole estate exists: at 100,000 hosts the trees were as large as the model.
/// Lowering an entity reads only the hosts and licences declared before it (pools, which
/// name VMs, are kept for the end), so when every host and licence is declared before the
/// VMs that name it, the model and diagnostics are those of [`lower`]. Returns `None` as
/// soon as a VM names a host or licence not declared so far: the caller then lowers the
/// whole trees, which declares every host and licence first.
///
/// Each batch goes to `spent` once lowered, for the parser's thread to free: freeing on the
/// thread that allocated is faster, and lowering is the busier of the two threads.
pub(crate) fn lower_streamed<'s>(
    stream: impl IntoIterator<Item = Streamed<'s>>,
    mut spent: impl FnMut(Vec<ParsedEntity<'s>>),
    catalog: Catalog,
    limits: crate::Limits,
    diags: &mut Diagnostics,
) -> Option<Model> {
    let mut lowerer = Lowerer::new(catalog, diags, Vec::new(), true);
    let mut count = 0;
    let mut limit_passed = false;
    let mut pools = Vec::new();
    for message in stream {
        let mut batch = match message {
            Streamed::File(text) => {
                // Entities open lines; a range or an odd layout only makes the count a guess.
                let count =
                    |what: &str| memchr::memmem::find_iter(text.as_bytes(), what).count() + usize::from(text.starts_with(&what[1..]));
                let hosts = count("\nhost ");
                lowerer.names.hosts.reserve(hosts);
                lowerer.model.hosts.reserve_exact(hosts);
                lowerer.expect_vms(count("\nvm "));
                continue;
            }
            Streamed::Entities(batch) => batch,
        };
        let mut kept_pools = Vec::new();
        for (k, parsed) in batch.iter().enumerate() {
            let ParsedEntity { entity, damaged, vm } = parsed;
            lowerer.damaged.extend(*damaged);
            if limit_passed {
                continue;
            }
            let Some(names) = lowerer.expand(entity) else { continue };
            if !lowerer.within_limit(limits, count, names.len(), entity) {
                limit_passed = true;
                continue;
            }
            count += names.len();
            if entity.kind == EntityKind::Bitfusion {
                kept_pools.push(k);
                continue;
            }
            // A VM's draft is read on the parser's thread; the members of a range share it.
            let read_here = (vm.is_none() && entity.kind == EntityKind::Vm).then(|| VmDraft::read(entity));
            for member in Member::all(entity, names, 0) {
                let inst = member.instance(entity);
                match (member.kind, vm.as_ref().or(read_here.as_ref())) {
                    (EntityKind::License, _) => lowerer.license(&inst),
                    (EntityKind::Host, _) => lowerer.host(&inst),
                    (_, draft) => {
                        let slot = lowerer.declare_vm(&inst);
                        if let Some(draft) = draft {
                            lowerer.vm(&inst, slot, draft);
                        }
                    }
                }
                if lowerer.names_an_undeclared_entity {
                    return None;
                }
            }
        }
        // Pools name VMs: they are lowered once every VM is declared.
        let start = pools.len();
        for &k in kept_pools.iter().rev() {
            pools.push(batch.remove(k).entity);
        }
        pools[start..].reverse();
        spent(batch);
    }
    for entity in &pools {
        for member in Member::all(entity, Declared::One(entity.name.ident.text), 0) {
            lowerer.pool(&member.instance(entity));
        }
    }
    Some(lowerer.model)
}

/// One name an entity declares: `dev[1..4]` gives four members sharing one declaration.
struct Member<'s> {
    kind: EntityKind,
    /// Its declaration, in `lower`'s list.
    entity: usize,
    /// Borrowed from the source unless the range made it.
    name: Cow<'s, str>,
    /// The range as written, when the member is one of a range's.
    range: Option<std::sync::Arc<str>>,
}

impl<'s> Member<'s> {
    /// The members `entity` declares, given its `names`; `index` is its place in `lower`'s list.
    fn all<'e>(entity: &'e ast::Entity<'s>, names: Declared<'s>, index: usize) -> impl Iterator<Item = Member<'s>> + 'e {
        // One shared copy of `dev[1..4]` for all members of a range.
        let range: Option<std::sync::Arc<str>> = entity.name.range.as_ref().map(|_| written(&entity.name).into());
        let member = move |name| Member { kind: entity.kind, entity: index, name, range: range.clone() };
        let (one, many) = match names {
            Declared::One(name) => (Some(member(Cow::Borrowed(name))), None),
            Declared::Range { base, first, last, width } => {
                (None, Some((first..=last).map(move |n| member(Cow::Owned(format!("{base}{n:0width$}"))))))
            }
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn instance<'a>(&'a self, entity: &'a ast::Entity<'s>) -> Instance<'a, 's> {
        Instance { name: &self.name, pattern: &entity.name, body: &entity.body, range: self.range.as_ref() }
    }
}

/// A member with its declaration, as the entity lowerings read it.
struct Instance<'a, 's> {
    /// Borrowed from the source unless a range made it: the name tables keep it as it is.
    name: &'a Cow<'s, str>,
    pattern: &'a ast::NamePattern<'s>,
    body: &'a Body<'s>,
    range: Option<&'a std::sync::Arc<str>>,
}

/// The name as written (`dev[1..4]`), for messages about the shared body.
fn written(pattern: &ast::NamePattern) -> String {
    match &pattern.range {
        Some(r) => format!("{}[{}..{}]", pattern.ident.text, r.first.text, r.last.text),
        None => pattern.ident.text.to_string(),
    }
}

impl Instance<'_, '_> {
    fn written(&self) -> String {
        written(self.pattern)
    }

    fn span(&self) -> Span {
        self.pattern.span
    }
}

/// The names an entity declares: its own, or those of its range.
enum Declared<'s> {
    One(&'s str),
    Range { base: &'s str, first: u64, last: u64, width: usize },
}

impl Declared<'_> {
    fn len(&self) -> usize {
        match self {
            Declared::One(_) => 1,
            Declared::Range { first, last, .. } => (last - first + 1) as usize,
        }
    }
}

/// The names declared so far, borrowed from the source (a million VM names are not copied).
#[derive(Default)]
struct Names<'s> {
    licenses: HashMap<Cow<'s, str>, LicenseId>,
    hosts: HashMap<Cow<'s, str>, HostId>,
    vms: HashMap<Cow<'s, str>, VmId>,
    pools: HashMap<Cow<'s, str>, PoolId>,
    /// Licences whose declaration failed (reported): a reference to one is not unknown.
    failed_licenses: rustc_hash::FxHashSet<Cow<'s, str>>,
    /// Per host: GPU name to id.
    gpus: HashMap<HostId, HashMap<&'s str, GpuId>>,
}

struct Lowerer<'d, 's> {
    model: Model,
    diags: &'d mut Diagnostics,
    names: Names<'s>,
    /// Name spans of declared VMs, by id (VM bodies are lowered after all names are known).
    vm_spans: Vec<Span>,
    /// The VM being lowered names an entity whose declaration failed (reported there).
    names_a_failed_declaration: bool,
    /// Regions around syntax errors (reported): an entity whose body overlaps one may have
    /// lost what the error cut out.
    damaged: Vec<Span>,
    /// Entities are lowered as they are parsed ([`lower_streamed`]), so a name not declared
    /// so far may still be declared later.
    streamed: bool,
    /// While `streamed`: an entity named a host or licence not declared so far.
    names_an_undeclared_entity: bool,
}

impl<'d, 's> Lowerer<'d, 's> {
    fn new(catalog: Catalog, diags: &'d mut Diagnostics, damaged: Vec<Span>, streamed: bool) -> Self {
        Lowerer {
            model: Model { catalog, ..Model::default() },
            diags,
            names: Names::default(),
            vm_spans: Vec::new(),
            names_a_failed_declaration: false,
            damaged,
            streamed,
            names_an_undeclared_entity: false,
        }
    }

    /// Sizes the VM lists for `vms` more, exactly: a VM is 400 bytes, and doubling would leave
    /// up to half the list unused.
    fn expect_vms(&mut self, vms: usize) {
        self.model.vms.reserve_exact(vms);
        self.vm_spans.reserve_exact(vms);
        self.names.vms.reserve(vms);
    }

    /// Whether `entity`'s `names` more fit within `limits` after `count` entities; when not,
    /// reports that it and all after it were not checked.
    fn within_limit(&mut self, limits: crate::Limits, count: usize, names: usize, entity: &ast::Entity) -> bool {
        if count + names <= limits.entities {
            return true;
        }
        self.diags.push(
            Diagnostic::new(
                Code::InvalidRange,
                format!("the estate declares more than {} entities; this one and all after it were not checked", limits.entities),
                entity.name.span,
                "the limit is passed here",
            )
            .with_help(format!("the {count} entities declared before it were checked; split the estate and compile its parts separately")),
        );
        false
    }
    /// The names `entity` declares, or `None` (reported) for a range that cannot be expanded.
    fn expand(&mut self, entity: &ast::Entity<'s>) -> Option<Declared<'s>> {
        let pattern = &entity.name;
        let base = pattern.ident.text;
        let Some(range) = &pattern.range else {
            return Some(Declared::One(base));
        };
        let (first, last) = (range.first.text.parse::<u64>().ok(), range.last.text.parse::<u64>().ok());
        let (Some(first), Some(last)) = (first, last) else {
            self.diags.push(
                Diagnostic::new(Code::InvalidRange, "the range bounds are too large", range.span, "bounds do not fit")
                    .with_help(format!("ranges declare at most {MAX_RANGE} names")),
            );
            return None;
        };
        if last < first {
            self.diags.push(
                Diagnostic::new(
                    Code::InvalidRange,
                    format!("the range `{base}[{first}..{last}]` is reversed"),
                    range.span,
                    "the first bound is above the last",
                )
                .with_help(format!("write `{base}[{last}..{first}]`")),
            );
            return None;
        }
        let count = last - first + 1;
        if count > MAX_RANGE {
            self.diags.push(
                Diagnostic::new(Code::InvalidRange, format!("the range declares {count} names"), range.span, "too many names")
                    .with_help(format!("ranges declare at most {MAX_RANGE} names; split the estate into several ranges or files")),
            );
            return None;
        }
        // `esx[01..16]`: a leading zero in the first bound pads every name to its width.
        let width = if range.first.text.starts_with('0') && range.first.text.len() > 1 { range.first.text.len() } else { 0 };
        Some(Declared::Range { base, first, last, width })
    }

    /// Records a name in its kind's table; a second entity of the same name is E0101.
    fn declare<Id: Copy>(
        &mut self,
        table: for<'n> fn(&'n mut Names<'s>) -> &'n mut HashMap<Cow<'s, str>, Id>,
        kind: &str,
        name: Cow<'s, str>,
        span: Span,
        id: Id,
        first_span: fn(&Self, Id) -> Span,
    ) -> bool {
        if let Some(&existing) = table(&mut self.names).get(name.as_ref()) {
            let first = first_span(self, existing);
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    format!("{kind} `{name}` is declared twice"),
                    span,
                    format!("second {kind} named `{name}`"),
                )
                .with_label(first, "first declared here")
                .with_help(format!("rename one of them; {kind} names are unique across the estate")),
            );
            return false;
        }
        table(&mut self.names).insert(name, id);
        true
    }

    fn license(&mut self, inst: &Instance<'_, 's>) {
        let r = Reader::new(inst.body, "license", keys::LICENSE.attrs, keys::LICENSE.blocks, &[], self.diags);
        let id = LicenseId(self.model.licenses.len() as u32);
        let server = r.attr("server").and_then(|a| address(a, self.diags));
        let token = r.attr("token").and_then(|a| string_value(a, self.diags)).and_then(|s| {
            values::check_file_name(&s.value)
                .map(|()| s.clone())
                .map_err(|why| invalid(self.diags, s.span, why, "give the token's file name as downloaded from the licensing portal"))
                .ok()
        });
        let port =
            |key: &str, diags: &mut Diagnostics| r.attr(key).and_then(|a| integer(a, 1, 65535, diags)).map_or(7070, |p| p.value as u16);
        let kind = match (server, token) {
            (Some(primary), None) => {
                let backup = r
                    .attr("backup")
                    .and_then(|a| address(a, self.diags))
                    .map(|address| Endpoint { address, port: port("backup_port", self.diags) });
                LicenseKind::Server { primary: Endpoint { address: primary, port: port("port", self.diags) }, backup }
            }
            (None, Some(file)) => {
                for key in ["port", "backup", "backup_port"] {
                    if let Some(a) = r.attr(key) {
                        invalid(
                            self.diags,
                            a.span(),
                            format!("`{key}` belongs to a license server; an NLS token licence has none"),
                            "remove it, or use `server` instead of `token`",
                        );
                    }
                }
                LicenseKind::Token { file }
            }
            (Some(s), Some(t)) => {
                self.diags.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        format!("licence `{}` has both a server and a token", inst.name),
                        t.span,
                        "token here",
                    )
                    .with_label(s.span, "server here")
                    .with_help(
                        "a licence is either a legacy license server (`server`) or an NLS client configuration token (`token`); keep one",
                    ),
                );
                self.names.failed_licenses.insert(inst.name.clone());
                return;
            }
            (None, None) => {
                if r.absent("server") && r.absent("token") {
                    missing_with(self.diags, "licence", &inst.written(), inst.span(), "server", "add `server \"10.1.2.3\"` for a legacy license server, or `token \"client_configuration_token_<timestamp>.tok\"` for NLS".to_string());
                }
                self.names.failed_licenses.insert(inst.name.clone());
                return;
            }
        };
        if self.declare(|n| &mut n.licenses, "licence", inst.name.clone(), inst.span(), id, |l, id| l.model.license(id).span) {
            self.model.licenses.push(License { name: inst.name.to_string(), span: inst.span(), kind });
        }
    }

    fn host(&mut self, inst: &Instance<'_, 's>) {
        let r = Reader::new(inst.body, "host", keys::HOST.attrs, keys::HOST.blocks, &["gpu"], self.diags);
        let id = HostId(self.model.hosts.len() as u32);
        if !self.declare(|n| &mut n.hosts, "host", inst.name.clone(), inst.span(), id, |l, id| l.model.host(id).span) {
            return;
        }
        // In a range, `{name}` in the address stands for each host's own name.
        let address = r.attr("address").and_then(|a| address(a, self.diags)).map(|s| s.value.replace("{name}", inst.name));
        let esxi = r.attr("esxi").and_then(|a| {
            let v = version_text(a, self.diags)?;
            EsxiVersion::parse(&v.value)
                .map(|e| Spanned::new(e, v.span))
                .map_err(|why| invalid(self.diags, v.span, why, "e.g. `esxi \"8.0 U3\"`"))
                .ok()
        });
        if r.absent("esxi") {
            missing(self.diags, "host", &inst.written(), inst.span(), "esxi \"8.0 U3\"");
        }
        let system_id = r.attr("system_id").and_then(|a| string_value(a, self.diags)).filter(|s| {
            values::check_system_id(&s.value)
                .map_err(|why| invalid(self.diags, s.span, why, "copy the UUID printed by `esxcli system uuid get` on the host"))
                .is_ok()
        });
        let cluster = r.attr("cluster").and_then(|a| string_value(a, self.diags)).filter(|s| {
            values::check_cluster_name(&s.value)
                .map_err(|why| invalid(self.diags, s.span, why, "write the cluster's name as vCenter shows it, e.g. \"gpu-a\""))
                .is_ok()
        });
        let memory = r.attr("memory").and_then(|a| size(a, self.diags));
        let assignment = r
            .attr("assignment")
            .and_then(|a| {
                word(a, &[("performance", AssignmentPolicy::Performance), ("consolidation", AssignmentPolicy::Consolidation)], self.diags)
            })
            .map_or(AssignmentPolicy::default(), |s| s.value);
        let graphics = r
            .attr("graphics")
            .and_then(|a| word(a, &[("shared_direct", GraphicsType::SharedDirect), ("shared", GraphicsType::Shared)], self.diags));
        let (above_4g_decoding, sr_iov) = r.block("bios").map_or((None, None), |b| {
            let br = Reader::new(&b.body, "bios", keys::BIOS.attrs, keys::BIOS.blocks, &[], self.diags);
            let flag = |key: &str, diags: &mut Diagnostics| br.attr(key).and_then(|a| boolean(a, diags));
            (flag("above_4g_decoding", self.diags), flag("sr_iov", self.diags))
        });
        let nvidia = r.block("nvidia").map(|b| {
            let reported_before = self.diags.len();
            let nr = Reader::new(&b.body, "nvidia", keys::NVIDIA.attrs, keys::NVIDIA.blocks, &[], self.diags);
            let product = nr
                .attr("product")
                .and_then(|a| word(a, &[("vgpu", HostProduct::Vgpu), ("ai_enterprise", HostProduct::AiEnterprise)], self.diags));
            let vib = nr.attr("vib").and_then(|a| string_value(a, self.diags)).filter(|s| {
                values::check_host_path(&s.value)
                    .map_err(|why| {
                        invalid(self.diags, s.span, why, "write the datastore path, e.g. \"/vmfs/volumes/ds1/NVIDIA/driver.vib\"")
                    })
                    .is_ok()
            });
            let release = nr.attr("release").and_then(|a| {
                let v = version_text(a, self.diags)?;
                Version::parse(&v.value).map(|ver| Spanned::new(ver, v.span)).or_else(|| {
                    invalid(
                        self.diags,
                        v.span,
                        format!("`{}` is not a vGPU software release", v.value),
                        "write the release as `6.2`, `16.5` or `17.0`",
                    );
                    None
                })
            });
            let scheduler = nr.attr("scheduler").and_then(|a| {
                word(
                    a,
                    &[
                        ("best_effort", Scheduler::BestEffort),
                        ("equal_share", Scheduler::EqualShare),
                        ("fixed_share", Scheduler::FixedShare),
                    ],
                    self.diags,
                )
            });
            let time_slice = nr.attr("time_slice").and_then(|a| milliseconds(a, self.diags));
            let incomplete = self.diags.len() > reported_before;
            HostDriver { span: b.key.span, product, vib, release, scheduler, time_slice, incomplete }
        });
        // A host whose version is missing or unreadable (already reported) is kept, as the
        // newest ESXi, so that references to it resolve and no version rule fires on a guess.
        let esxi = esxi.unwrap_or(Spanned::new(EsxiVersion::new(9, 9, 9), inst.span()));
        self.model.hosts.push(Host {
            name: inst.name.to_string(),
            span: inst.span(),
            address: address.unwrap_or_else(|| inst.name.to_string()),
            cluster,
            system_id: system_id.map(|s| s.value),
            esxi,
            memory,
            assignment,
            graphics,
            above_4g_decoding,
            sr_iov,
            nvidia,
            gpus: Vec::new(),
            state: HostState::default(),
        });
        for block in r.blocks("gpu") {
            self.gpu(id, block);
        }
        self.host_state(id, &r);
    }

    fn gpu(&mut self, host: HostId, block: &ast::Block<'s>) {
        let Some(name) = &block.name else {
            self.diags.push(
                Diagnostic::new(Code::MissingAttribute, "this GPU has no name", block.key.span, "name missing")
                    .with_help("write `gpu g0 { model ... pci ... use ... }`; VMs refer to it as `host.g0`"),
            );
            return;
        };
        let reported_before = self.diags.len();
        let r = Reader::new(&block.body, "gpu", keys::GPU.attrs, keys::GPU.blocks, &[], self.diags);
        let id = GpuId(self.model.gpus.len() as u32);
        let table = self.names.gpus.entry(host).or_default();
        if let Some(&first) = table.get(name.text) {
            let first_span = self.model.gpu(first).span;
            let host_name = &self.model.host(host).name;
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    format!("GPU `{}` is declared twice on host `{host_name}`", name.text),
                    name.span,
                    "second GPU of this name",
                )
                .with_label(first_span, "first declared here")
                .with_help("give every GPU of a host its own name"),
            );
            return;
        }
        table.insert(name.text, id);
        let (board, model_span) = match r.attr("model") {
            Some(a) => match single(a, self.diags) {
                Some(v) => match v.reference() {
                    Some(re) if re.second().is_none() => {
                        let board = self.model.catalog.find(re.text);
                        if board.is_none() {
                            let help = suggest::help_for(re.text, "GPU model", self.model.catalog.all_names());
                            self.diags.push(
                                Diagnostic::new(
                                    Code::UnknownModel,
                                    format!("GPU model `{}` is not in the catalog", re.text),
                                    v.span,
                                    "unknown model",
                                )
                                .with_help(format!("{help}; `catalog \"boards.yaml\"` adds boards of your own")),
                            );
                        }
                        (board, v.span)
                    }
                    _ => {
                        wrong_kind(self.diags, a, v, "a model name such as `tesla-t4`");
                        (None, v.span)
                    }
                },
                None => (None, a.span()),
            },
            None => {
                if r.absent("model") {
                    missing(self.diags, "GPU", name.text, name.span, "model tesla-t4");
                }
                (None, name.span)
            }
        };
        let pci = match r.attr("pci") {
            Some(a) => single(a, self.diags).and_then(|v| match &v.kind {
                ValueKind::Pci(text) => PciAddress::parse(text)
                    .map(|p| Spanned::new(p, v.span))
                    .map_err(|why| {
                        self.diags.push(
                            Diagnostic::new(Code::MalformedPci, format!("`{text}` is not a valid PCI address"), v.span, why)
                                .with_help("copy the address from `esxcli hardware pci list` or `lspci`, e.g. `0000:3b:00.0`"),
                        );
                    })
                    .ok(),
                _ => {
                    self.diags.push(
                        Diagnostic::new(Code::MalformedPci, "a PCI address is expected", v.span, format!("found {}", v.kind.describe()))
                            .with_help("write domain:bus:device.function in hex, unquoted, e.g. `pci 0000:3b:00.0`"),
                    );
                    None
                }
            }),
            None => {
                if r.absent("pci") {
                    missing(self.diags, "GPU", name.text, name.span, "pci 0000:3b:00.0");
                }
                None
            }
        };
        let usage = match r.attr("use").and_then(|a| word(a, &[("passthrough", GpuUse::Passthrough), ("vgpu", GpuUse::Vgpu)], self.diags)) {
            Some(u) => u,
            None => {
                if r.absent("use") {
                    missing_with(
                        self.diags,
                        "GPU",
                        name.text,
                        name.span,
                        "use",
                        "add `use passthrough` (a whole GPU for one VM) or `use vgpu` (shared by vGPU types)".to_string(),
                    );
                }
                Spanned::new(GpuUse::Passthrough, name.span)
            }
        };
        let mode = r
            .attr("mode")
            .and_then(|a| {
                word(a, &[("same_size", VgpuMode::SameSize), ("mixed_size", VgpuMode::MixedSize), ("mig", VgpuMode::Mig)], self.diags)
            })
            .unwrap_or(Spanned::new(VgpuMode::SameSize, name.span));
        let ecc = r.attr("ecc").and_then(|a| boolean(a, self.diags));
        let incomplete = self.diags.len() > reported_before;
        self.model.gpus.push(Gpu {
            name: name.text.to_string(),
            span: name.span,
            host,
            board,
            model_span,
            pci,
            usage,
            mode,
            ecc,
            incomplete,
        });
        self.model.hosts[host.index()].gpus.push(id);
    }

    fn declare_vm(&mut self, inst: &Instance<'_, 's>) -> Option<VmId> {
        let id = VmId(self.vm_spans.len() as u32);
        let fresh = self.declare(|n| &mut n.vms, "VM", inst.name.clone(), inst.span(), id, |l, id| l.vm_spans[id.index()]);
        fresh.then(|| {
            self.vm_spans.push(inst.span());
            id
        })
    }

    fn resolve_host(&mut self, name: &Spanned<&str>) -> Option<HostId> {
        match self.names.hosts.get(name.value) {
            Some(&id) => Some(id),
            None => {
                self.names_an_undeclared_entity |= self.streamed;
                unknown(self.diags, "host", name, self.names.hosts.keys().map(AsRef::as_ref));
                None
            }
        }
    }

    fn gpu_target(&mut self, re: &Reference, vm_host: Option<HostId>) -> Option<Spanned<GpuId>> {
        let (host, gpu_name) = match re.second() {
            Some(gpu) => {
                let first = re.first();
                let host_name = Spanned::new(first.text, first.span);
                (self.resolve_host(&host_name)?, gpu)
            }
            None => (vm_host?, re.first()),
        };
        let table = self.names.gpus.get(&host);
        match table.and_then(|t| t.get(gpu_name.text)) {
            Some(&id) => Some(Spanned::new(id, re.span)),
            None => {
                let host_name = &self.model.host(host).name;
                let names: Vec<&str> = table.map(|t| t.keys().copied().collect()).unwrap_or_default();
                let mut sorted = names.clone();
                sorted.sort_unstable();
                let help = suggest::help_for(gpu_name.text, "GPU", sorted.iter().copied());
                self.diags.push(
                    Diagnostic::new(
                        Code::UnknownReference,
                        format!("host `{host_name}` has no GPU `{}`", gpu_name.text),
                        gpu_name.span,
                        "no such GPU on this host",
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    fn pool(&mut self, inst: &Instance<'_, 's>) {
        let r = Reader::new(inst.body, "bitfusion", keys::BITFUSION.attrs, keys::BITFUSION.blocks, &["server", "client"], self.diags);
        let id = PoolId(self.model.pools.len() as u32);
        if !self.declare(|n| &mut n.pools, "Bitfusion pool", inst.name.clone(), inst.span(), id, |l, id| l.model.pools[id.index()].span) {
            return;
        }
        let product = match (r.attr("flexdirect"), r.attr("bitfusion")) {
            (Some(a), None) => self.product_version(a, true),
            (None, Some(a)) => self.product_version(a, false),
            (Some(a), Some(b)) => {
                self.diags.push(
                    Diagnostic::new(Code::InvalidValue, "a pool runs either FlexDirect or vSphere Bitfusion", b.span(), "second product")
                        .with_label(a.span(), "first product")
                        .with_help("keep `flexdirect \"1.x\"` for FlexDirect 1.x or `bitfusion \"2.5\"` for vSphere Bitfusion"),
                );
                None
            }
            (None, None) => {
                if r.absent("flexdirect") && r.absent("bitfusion") {
                    missing_with(
                        self.diags,
                        "Bitfusion pool",
                        &inst.written(),
                        inst.span(),
                        "flexdirect",
                        "add `flexdirect \"1.x\"` (FlexDirect) or `bitfusion \"2.5\"` (vSphere Bitfusion)".to_string(),
                    );
                }
                None
            }
        };
        let mut servers: Vec<PoolServer> = Vec::new();
        for b in r.blocks("server") {
            let Some(name) = &b.name else {
                missing_with(
                    self.diags,
                    "Bitfusion server",
                    "",
                    b.key.span,
                    "name",
                    "name the VM that serves: `server trainer { address \"10.1.3.11\" }`".to_string(),
                );
                continue;
            };
            let sr = Reader::new(&b.body, "server", keys::POOL_SERVER.attrs, keys::POOL_SERVER.blocks, &[], self.diags);
            let address = sr.attr("address").and_then(|a| address(a, self.diags)).map(|s| s.value);
            if sr.absent("address") {
                missing(self.diags, "Bitfusion server", name.text, name.span, "address \"10.1.3.11\"");
            }
            if let Some(first) = servers.iter().find(|s| s.name == name.text) {
                self.diags.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        format!("server `{}` is listed twice in pool `{}`", name.text, inst.name),
                        name.span,
                        "listed again",
                    )
                    .with_label(first.span, "first listed here")
                    .with_help("list each server once"),
                );
                continue;
            }
            let vm = match self.names.vms.get(name.text) {
                Some(&id) => Some(id),
                None => {
                    let spanned = Spanned::new(name.text, name.span);
                    let mut vm_names: Vec<&str> = self.model.vms.iter().map(|v| v.name.as_str()).collect();
                    vm_names.sort_unstable();
                    unknown(self.diags, "VM", &spanned, vm_names);
                    None
                }
            };
            servers.push(PoolServer { name: name.text.to_string(), span: name.span, vm, address: address.unwrap_or_default() });
        }
        let mut clients: Vec<PoolClient> = Vec::new();
        for b in r.blocks("client") {
            let Some(name) = &b.name else {
                missing_with(
                    self.diags,
                    "Bitfusion client",
                    "",
                    b.key.span,
                    "name",
                    "name the client: `client notebook { address \"10.1.4.20\" }`".to_string(),
                );
                continue;
            };
            let cr = Reader::new(&b.body, "client", keys::POOL_CLIENT.attrs, keys::POOL_CLIENT.blocks, &[], self.diags);
            if let Some(first) = clients.iter().find(|c| c.name == name.text) {
                self.diags.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        format!("client `{}` is listed twice in pool `{}`", name.text, inst.name),
                        name.span,
                        "listed again",
                    )
                    .with_label(first.span, "first listed here")
                    .with_help("list each client once"),
                );
                continue;
            }
            let address = cr.attr("address").and_then(|a| address(a, self.diags)).map(|s| s.value);
            if cr.absent("address") {
                missing(self.diags, "Bitfusion client", name.text, name.span, "address \"10.1.4.20\"");
            }
            let mut unresolved_servers = false;
            let (chosen, servers_span) = match cr.attr("servers") {
                Some(a) => {
                    let mut chosen = Vec::new();
                    for v in &a.values {
                        let Some(n) = value_name(v) else {
                            wrong_kind(self.diags, a, v, "server names of this pool");
                            continue;
                        };
                        match servers.iter().position(|s| s.name == n.value) {
                            Some(i) => chosen.push(i),
                            None => {
                                unresolved_servers = true;
                                unknown(self.diags, "server of this pool", &n, servers.iter().map(|s| s.name.as_str()))
                            }
                        }
                    }
                    (chosen, a.span())
                }
                None => ((0..servers.len()).collect(), name.span),
            };
            let gpus = cr
                .attr("gpus")
                .and_then(|a| integer(a, 0, 1024, self.diags))
                .map_or(Spanned::new(1, name.span), |g| Spanned::new(g.value as u32, g.span));
            let share = cr.attr("share").and_then(|a| fraction(a, self.diags));
            let memory = cr.attr("memory").and_then(|a| size(a, self.diags));
            clients.push(PoolClient {
                name: name.text.to_string(),
                span: name.span,
                address: address.unwrap_or_else(|| inst.name.to_string()),
                servers: chosen,
                unresolved_servers,
                servers_span,
                gpus,
                share,
                memory,
            });
        }
        if let Some(product) = product {
            self.model.pools.push(Pool { name: inst.name.to_string(), span: inst.span(), product, servers, clients });
        } else {
            self.names.pools.remove(inst.name.as_ref());
        }
    }

    fn product_version(&mut self, a: &Attribute, flexdirect: bool) -> Option<Spanned<BitfusionProduct>> {
        let v = version_text(a, self.diags)?;
        // `1.x` means any 1.y release.
        let text = v.value.trim_end_matches(".x");
        match Version::parse(text) {
            Some(version) => Some(Spanned::new(BitfusionProduct { flexdirect, version }, v.span)),
            None => {
                invalid(
                    self.diags,
                    v.span,
                    format!("`{}` is not a version", v.value),
                    "write e.g. `flexdirect \"1.x\"` or `bitfusion \"2.5\"`",
                );
                None
            }
        }
    }
}

/// The attributes and nested blocks of one body, checked against the keys its kind takes.
/// Inline lists: a body has a few entries, and there is a reader per body of the estate.
struct Reader<'a, 's> {
    attrs: SmallVec<[&'a Attribute<'s>; 12]>,
    blocks: SmallVec<[&'a ast::Block<'s>; 4]>,
    /// Keys the kind does not take (reported), kept so that a misspelt required key is not
    /// also reported missing.
    unknown: SmallVec<[&'s str; 2]>,
}

impl<'a, 's> Reader<'a, 's> {
    /// `attrs` and `blocks` are the attributes and nested blocks this kind takes;
    /// `repeatable` may appear more than once. Unknown keys (E0002), the wrong form (E0005)
    /// and repeats (E0004) are reported here.
    fn new(body: &'a Body<'s>, what: &str, attrs: &[&str], blocks: &[&str], repeatable: &[&str], diags: &mut Diagnostics) -> Self {
        let mut reader = Reader { attrs: SmallVec::new(), blocks: SmallVec::new(), unknown: SmallVec::new() };
        // Where each non-repeatable key was first given, by its index in `attrs ++ blocks`
        // (a kind takes a dozen keys at most, so a list beats hashing).
        let mut seen: SmallVec<[(usize, Span); 12]> = SmallVec::new();
        for entry in &body.entries {
            let (key, is_block) = match entry {
                ast::Entry::Attribute(a) => (&a.key, false),
                ast::Entry::Block(b) => (&b.key, true),
            };
            let k = key.text;
            let keys = attrs.iter().chain(blocks).copied();
            let Some(index) = keys.clone().position(|x| same_key(x, k)) else {
                let help = suggest::help_for(k, "attribute", keys);
                diags.push(
                    Diagnostic::new(Code::UnknownAttribute, format!("a {what} block has no `{k}`"), key.span, format!("unknown in {what}"))
                        .with_help(help),
                );
                reader.unknown.push(k);
                continue;
            };
            let known = if index < attrs.len() { attrs[index] } else { blocks[index - attrs.len()] };
            if is_block != (index >= attrs.len()) {
                let help =
                    if is_block { format!("write `{k} value` without braces") } else { format!("`{k}` is a block: write `{k} {{ ... }}`") };
                diags.push(
                    Diagnostic::new(
                        Code::WrongValueKind,
                        format!("`{k}` is {} here", if is_block { "an attribute, not a block" } else { "a block, not an attribute" }),
                        key.span,
                        "wrong form",
                    )
                    .with_help(help),
                );
                continue;
            }
            if !repeatable.contains(&known) {
                if let Some(&(_, first)) = seen.iter().find(|(i, _)| *i == index) {
                    diags.push(
                        Diagnostic::new(Code::RepeatedAttribute, format!("`{k}` is given twice"), key.span, "given again")
                            .with_label(first, "first given here")
                            .with_help("keep one of them"),
                    );
                    continue;
                }
                seen.push((index, key.span));
            }
            match entry {
                ast::Entry::Attribute(a) => reader.attrs.push(a),
                ast::Entry::Block(b) => {
                    if b.name.is_some() && !matches!(known, "gpu" | "server" | "client") {
                        diags.push(
                            Diagnostic::new(
                                Code::WrongValueKind,
                                format!("a `{k}` block has no name"),
                                b.name.as_ref().map_or(b.span, |n| n.span),
                                "remove this name",
                            )
                            .with_help(format!("write `{k} {{ ... }}`")),
                        );
                    }
                    reader.blocks.push(b)
                }
            }
        }
        reader
    }

    /// `key` is not given, and no unknown key of the body is a misspelling of it: `memroy`
    /// was reported with its did-you-mean, and "no `memory`" would be a second error for
    /// one mistake.
    fn absent(&self, key: &str) -> bool {
        self.attr(key).is_none() && !self.unknown.iter().any(|u| suggest::closest(u, [key]).is_some())
    }

    fn attr(&self, key: &str) -> Option<&'a Attribute<'s>> {
        self.attrs.iter().copied().find(|a| same_key(a.key.text, key))
    }

    fn attrs<'k>(&'k self, key: &'k str) -> impl Iterator<Item = &'a Attribute<'s>> + 'k {
        self.attrs.iter().copied().filter(move |a| same_key(a.key.text, key))
    }

    fn block(&self, key: &str) -> Option<&'a ast::Block<'s>> {
        self.blocks.iter().copied().find(|b| same_key(b.key.text, key))
    }

    fn blocks<'k>(&'k self, key: &'k str) -> impl Iterator<Item = &'a ast::Block<'s>> + 'k {
        self.blocks.iter().copied().filter(move |b| same_key(b.key.text, key))
    }
}

/// `a == b` for keys, which are short and mostly differ in length or first letter: those are
/// compared first, so most lookups never call `memcmp` (once a tenth of check's time).
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// E0003 for a required attribute; `example` is what to add, e.g. `memory 64GiB`.
fn missing(diags: &mut Diagnostics, what: &str, name: &str, span: Span, example: &str) {
    let key = example.split(' ').next().unwrap_or(example);
    missing_with(diags, what, name, span, key, format!("add `{example}`"));
}

fn missing_with(diags: &mut Diagnostics, what: &str, name: &str, span: Span, key: &str, help: String) {
    let named = if name.is_empty() { String::new() } else { format!(" `{name}`") };
    diags.push(
        Diagnostic::new(Code::MissingAttribute, format!("{what}{named} has no `{key}`"), span, format!("`{key}` missing")).with_help(help),
    );
}

fn invalid(diags: &mut Diagnostics, span: Span, why: impl Into<String>, help: &str) {
    let why = why.into();
    diags.push(Diagnostic::new(Code::InvalidValue, why.clone(), span, "invalid value").with_help(help.to_string()));
}

fn unknown<'a>(diags: &mut Diagnostics, what: &str, name: &Spanned<&str>, candidates: impl IntoIterator<Item = &'a str>) {
    let mut list: Vec<&str> = candidates.into_iter().collect();
    list.sort_unstable();
    let help = suggest::help_for(name.value, what, list.iter().copied());
    diags.push(
        Diagnostic::new(Code::UnknownReference, format!("no {what} is named `{}`", name.value), name.span, format!("unknown {what}"))
            .with_help(help),
    );
}

fn wrong_kind(diags: &mut Diagnostics, a: &Attribute, v: &Value, expected: &str) {
    diags.push(
        Diagnostic::new(Code::WrongValueKind, format!("`{}` takes {expected}", a.key.text), v.span, format!("found {}", v.kind.describe()))
            .with_help(format!("write `{} ` followed by {expected}", a.key.text)),
    );
}

/// The one value of a single-valued attribute (E0005 when a list is given).
fn single<'v, 's>(a: &'v Attribute<'s>, diags: &mut Diagnostics) -> Option<&'v Value<'s>> {
    match a.values.as_slice() {
        [v] => Some(v),
        [first, second, ..] => {
            diags.push(
                Diagnostic::new(
                    Code::WrongValueKind,
                    format!("`{}` takes one value", a.key.text),
                    second.span.to(a.values[a.values.len() - 1].span),
                    "extra values",
                )
                .with_label(first.span, "the value")
                .with_help("remove the extra values"),
            );
            None
        }
        [] => None,
    }
}

fn size(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<ByteSize>> {
    let v = single(a, diags)?;
    match &v.kind {
        ValueKind::Quantity(text) => match ByteSize::parse_text(text) {
            Ok(s) if s.0 > 0 => Some(Spanned::new(s, v.span)),
            Ok(_) => {
                invalid(diags, v.span, "a size of zero", "give a size above zero");
                None
            }
            Err(why) => {
                invalid(diags, v.span, why, "sizes use binary units: `512MiB`, `64GiB`, `1TiB`");
                None
            }
        },
        ValueKind::Number(n) => {
            invalid(diags, v.span, format!("`{n}` has no unit"), &format!("write `{n}GiB` or `{n}MiB`"));
            None
        }
        _ => {
            wrong_kind(diags, a, v, "a size such as `64GiB`");
            None
        }
    }
}

fn milliseconds(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<u32>> {
    let v = single(a, diags)?;
    match &v.kind {
        ValueKind::Quantity(text) if quantity::split(text).1 == "ms" => match quantity::split(text).0.parse::<u32>() {
            Ok(n) => Some(Spanned::new(n, v.span)),
            Err(_) => {
                invalid(
                    diags,
                    v.span,
                    format!("`{}` is not a whole number of milliseconds", quantity::split(text).0),
                    "write e.g. `time_slice 3ms`",
                );
                None
            }
        },
        _ => {
            wrong_kind(diags, a, v, "a duration in milliseconds such as `3ms`");
            None
        }
    }
}

fn integer(a: &Attribute, min: u64, max: u64, diags: &mut Diagnostics) -> Option<Spanned<u64>> {
    let v = single(a, diags)?;
    match &v.kind {
        ValueKind::Number(n) => match n.parse::<u64>() {
            Ok(x) if (min..=max).contains(&x) => Some(Spanned::new(x, v.span)),
            Ok(x) => {
                invalid(
                    diags,
                    v.span,
                    format!("{x} is outside {min}..{max}"),
                    &format!("`{}` takes a whole number from {min} to {max}", a.key.text),
                );
                None
            }
            Err(_) => {
                invalid(
                    diags,
                    v.span,
                    format!("`{n}` is not a whole number"),
                    &format!("`{}` takes a whole number from {min} to {max}", a.key.text),
                );
                None
            }
        },
        _ => {
            wrong_kind(diags, a, v, "a whole number");
            None
        }
    }
}

/// A share of a GPU: a decimal number (range checked by R20, so that 1.5 is a rule error).
fn fraction(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<f64>> {
    let v = single(a, diags)?;
    match &v.kind {
        ValueKind::Number(n) if n.matches('.').count() <= 1 => match n.parse::<f64>() {
            Ok(x) => Some(Spanned::new(x, v.span)),
            Err(_) => None,
        },
        _ => {
            wrong_kind(diags, a, v, "a fraction such as `0.5`");
            None
        }
    }
}

fn string_value(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<String>> {
    let v = single(a, diags)?;
    match &v.kind {
        ValueKind::Str(s) => Some(Spanned::new(ast::unescape(s).into_owned(), v.span)),
        _ => {
            wrong_kind(diags, a, v, "a string in double quotes");
            None
        }
    }
}

fn address(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<String>> {
    let s = string_value(a, diags)?;
    match values::check_address(&s.value) {
        Ok(()) => Some(s),
        Err(why) => {
            invalid(diags, s.span, why, "write an IPv4 or IPv6 address or a host name in quotes, e.g. \"10.1.2.3\"");
            None
        }
    }
}

/// A version written as a string (`"6.7.0 U1"`) or a bare number (`6.2`).
fn version_text(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<String>> {
    let v = single(a, diags)?;
    match &v.kind {
        ValueKind::Str(s) => Some(Spanned::new(ast::unescape(s).into_owned(), v.span)),
        ValueKind::Number(s) => Some(Spanned::new(s.to_string(), v.span)),
        _ => {
            wrong_kind(diags, a, v, "a version such as \"6.7.0 U1\"");
            None
        }
    }
}

fn value_name<'s>(v: &Value<'s>) -> Option<Spanned<&'s str>> {
    match v.kind {
        ValueKind::Reference(text) if !text.contains('.') => Some(Spanned::new(text, v.span)),
        _ => None,
    }
}

fn plain_name<'s>(a: &Attribute<'s>, diags: &mut Diagnostics) -> Option<Spanned<&'s str>> {
    let v = single(a, diags)?;
    let name = value_name(v);
    if name.is_none() {
        wrong_kind(diags, a, v, "a name");
    }
    name
}

fn boolean(a: &Attribute, diags: &mut Diagnostics) -> Option<Spanned<bool>> {
    word(a, &[("true", true), ("false", false), ("on", true), ("off", false)], diags)
}

/// One of a fixed set of words (E0006 with did-you-mean otherwise).
fn word<T: Copy>(a: &Attribute, choices: &[(&str, T)], diags: &mut Diagnostics) -> Option<Spanned<T>> {
    let v = single(a, diags)?;
    let names = || choices.iter().map(|(n, _)| *n);
    let Some(text) = value_name(v) else {
        let list = names().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        wrong_kind(diags, a, v, &format!("one of {list}"));
        return None;
    };
    match choices.iter().find(|(n, _)| *n == text.value) {
        Some((_, t)) => Some(Spanned::new(*t, v.span)),
        None => {
            let list = names().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            let help = match suggest::closest(text.value, names()) {
                Some(c) => format!("did you mean `{c}`? `{}` takes {list}", a.key.text),
                None => format!("`{}` takes {list}", a.key.text),
            };
            diags.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` is not a valid `{}`", text.value, a.key.text),
                    v.span,
                    "not one of the choices",
                )
                .with_help(help),
            );
            None
        }
    }
}
