//! A VM's lowering in two halves: what its body says on its own ([`VmDraft::read`]: values
//! read and checked, which needs no other entity, so the parser's thread does it while an
//! estate streams), then what it names ([`Lowerer::vm`]: its host, GPUs and licence, which
//! need the entities declared before it).

use super::*;

/// What a VM's body says on its own; names are resolved by [`Lowerer::vm`].
pub(crate) struct VmDraft<'s> {
    /// What reading the body reported.
    diags: Diagnostics,
    host: Option<Spanned<&'s str>>,
    memory: Option<Spanned<ByteSize>>,
    cpus: Option<u32>,
    firmware: Option<Spanned<Firmware>>,
    reservation: Option<Spanned<ByteSize>>,
    mmio: Option<Spanned<ByteSize>>,
    passthrough: Vec<Reference<'s>>,
    /// Each request's type as written, with the GPU it is pinned to (`on esx14.g2`) still a
    /// name. The model's copy of the type is made on the lowering thread, beside the VM.
    vgpus: Vec<(Reference<'s>, Option<Reference<'s>>)>,
    vmotion: Option<Spanned<bool>>,
    drs: Option<Spanned<bool>>,
    snapshots: Option<Spanned<bool>>,
    /// The guest, with the licence it names still a name.
    guest: Option<(Guest, Option<Spanned<&'s str>>)>,
}

impl<'s> VmDraft<'s> {
    /// Reads a VM entity's body.
    pub(crate) fn read(entity: &ast::Entity<'s>) -> Self {
        let mut reported = Diagnostics::default();
        let diags = &mut reported;
        // The name as written is for a message only: not formatted for every VM.
        let missing_key = |diags: &mut Diagnostics, example| missing(diags, "VM", &written(&entity.name), entity.name.span, example);
        let r = Reader::new(&entity.body, "vm", keys::VM.attrs, keys::VM.blocks, &["vgpu", "passthrough"], diags);
        let host = r.attr("host").and_then(|a| plain_name(a, diags));
        if r.absent("host") {
            missing_key(diags, "host esx14");
        }
        let memory = r.attr("memory").and_then(|a| size(a, diags));
        if r.absent("memory") {
            missing_key(diags, "memory 64GiB");
        }
        let cpus = r.attr("cpus").and_then(|a| integer(a, 1, 768, diags)).map(|c| c.value as u32);
        let firmware = r.attr("firmware").and_then(|a| word(a, &[("efi", Firmware::Efi), ("bios", Firmware::Bios)], diags));
        let reservation = r.attr("reservation").and_then(|a| size(a, diags));
        let mmio = r.attr("mmio").and_then(|a| size(a, diags));
        let mut passthrough = Vec::new();
        for v in r.attrs("passthrough").flat_map(|a| &a.values) {
            match v.reference() {
                Some(gpu) => passthrough.push(gpu),
                None => diags.push(
                    Diagnostic::new(Code::WrongValueKind, "`passthrough` lists GPUs", v.span, format!("found {}", v.kind.describe()))
                        .with_help("name GPUs as `host.gpu` (e.g. `esx14.g0`) or, on the VM's own host, just `g0`"),
                ),
            }
        }
        let mut vgpus = Vec::new();
        for a in r.attrs("vgpu") {
            for v in &a.values {
                match &v.kind {
                    ValueKind::Reference(text) if !text.contains('.') => vgpus.push((Reference { text, span: v.span }, None)),
                    ValueKind::Placed(placed) if placed.item.second().is_none() => vgpus.push((placed.item, Some(placed.target))),
                    ValueKind::Placed(placed) => diags.push(
                        Diagnostic::new(
                            Code::WrongValueKind,
                            format!("`{}` is not a vGPU type", placed.item.text),
                            placed.item.span,
                            "a vGPU type name has no `.`",
                        )
                        .with_help("write the type before `on` and the GPU after it, e.g. `vgpu grid_p100-8q on esx14.g2`"),
                    ),
                    _ => wrong_kind(diags, a, v, "a vGPU type such as `grid_p100-8q`, optionally `on host.gpu`"),
                }
            }
        }
        let flag = |key: &str, diags: &mut Diagnostics| r.attr(key).and_then(|a| boolean(a, diags));
        let vmotion = flag("vmotion", diags);
        let drs = flag("drs", diags);
        let snapshots = flag("snapshots", diags);
        let guest = r.block("guest").map(|b| guest(b, diags));
        VmDraft { diags: reported, host, memory, cpus, firmware, reservation, mmio, passthrough, vgpus, vmotion, drs, snapshots, guest }
    }
}

/// A guest block, with the licence it names.
fn guest<'s>(block: &ast::Block<'s>, diags: &mut Diagnostics) -> (Guest, Option<Spanned<&'s str>>) {
    let r = Reader::new(&block.body, "guest", keys::GUEST.attrs, keys::GUEST.blocks, &[], diags);
    let os = r.attr("os").and_then(|a| word(a, &[("linux", GuestOs::Linux), ("windows", GuestOs::Windows)], diags));
    let driver = r.attr("driver").and_then(|a| version(a, "a driver version such as \"390.42\"", diags));
    let cuda = r.attr("cuda").and_then(|a| version(a, "a CUDA version such as \"12.2\"", diags));
    let license = r.attr("license").or_else(|| r.attr("licence")).and_then(|a| plain_name(a, diags));
    let product = r.attr("product").and_then(|a| word(a, &[("vws", Product::Vws), ("vcs", Product::Vcs)], diags));
    (Guest { span: block.key.span, os, driver, cuda, license: None, product }, license)
}

fn version(a: &Attribute, example: &str, diags: &mut Diagnostics) -> Option<Spanned<Version>> {
    let v = version_text(a, diags)?;
    match Version::parse(&v.value) {
        Some(ver) => Some(Spanned::new(ver, v.span)),
        None => {
            invalid(diags, v.span, format!("`{}` is not a version", v.value), &format!("write {example}"));
            None
        }
    }
}

impl<'s> Lowerer<'_, 's> {
    /// Lowers a VM from its `draft`: resolves what it names and, unless it is a second VM of
    /// its name (`slot` is `None`), adds it to the model.
    pub(super) fn vm(&mut self, inst: &Instance, slot: Option<VmId>, draft: &VmDraft) {
        let reported_before = self.diags.len();
        self.names_a_failed_declaration = false;
        self.diags.extend(draft.diags.iter().cloned());
        let host = draft.host.and_then(|name| self.resolve_host(&name));
        let passthrough = draft.passthrough.iter().filter_map(|gpu| self.gpu_target(gpu, host)).collect();
        let vgpus = draft
            .vgpus
            .iter()
            .map(|(item, pinned)| VgpuRequest {
                type_name: item.text.to_ascii_lowercase(),
                span: item.span,
                pinned: pinned.and_then(|gpu| self.gpu_target(&gpu, host)),
            })
            .collect();
        let guest = draft
            .guest
            .as_ref()
            .map(|(guest, license)| Guest { license: license.and_then(|name| self.license_named(name)), ..guest.clone() });
        let Some(slot) = slot else { return };
        debug_assert_eq!(slot.index(), self.model.vms.len());
        // A VM without a readable memory size is kept (with size 0, meaning unknown) so that
        // ids stay dense and its other problems are still reported.
        let memory = draft.memory.unwrap_or(Spanned::new(ByteSize(0), inst.span()));
        self.model.vms.push(Vm {
            name: inst.name.to_string(),
            span: inst.span(),
            host,
            memory,
            cpus: draft.cpus,
            firmware: draft.firmware,
            reservation: draft.reservation,
            mmio: draft.mmio,
            passthrough,
            vgpus,
            vmotion: draft.vmotion,
            drs: draft.drs,
            snapshots: draft.snapshots,
            guest,
            incomplete: self.diags.len() > reported_before
                || std::mem::take(&mut self.names_a_failed_declaration)
                || self
                    .damaged
                    .iter()
                    .any(|d| d.file == inst.body.span.file && d.start < inst.body.span.end && inst.body.span.start < d.end),
            range: inst.range.cloned(),
        });
    }

    /// The licence `name` refers to; a licence whose declaration failed (reported there) is
    /// no second error.
    fn license_named(&mut self, name: Spanned<&str>) -> Option<Spanned<LicenseId>> {
        match self.names.licenses.get(name.value) {
            Some(&id) => Some(Spanned::new(id, name.span)),
            None if self.names.failed_licenses.contains(name.value) => {
                self.names_a_failed_declaration = true;
                None
            }
            None => {
                self.names_an_undeclared_entity |= self.streamed;
                unknown(self.diags, "licence", &name, self.names.licenses.keys().map(AsRef::as_ref));
                None
            }
        }
    }
}
