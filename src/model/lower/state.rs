//! A host's present state: `installed { ... }` (what the host has today) and `image_managed`
//! (vSphere Lifecycle Manager owns its software). Lowered after the host's GPUs, which
//! `installed` names.

use super::*;

impl<'s> Lowerer<'_, 's> {
    /// Fills `state` of host `id` from the host body's reader.
    pub(super) fn host_state(&mut self, id: HostId, r: &Reader) {
        let image_managed = r.attr("image_managed").and_then(|a| boolean(a, self.diags));
        let installed = r.block("installed").map(|b| self.installed(id, b));
        self.model.hosts[id.index()].state = HostState { installed, image_managed };
    }

    fn installed(&mut self, host: HostId, block: &ast::Block) -> Installed {
        let reported_before = self.diags.len();
        let r = Reader::new(
            &block.body,
            "installed",
            crate::model::keys::INSTALLED.attrs,
            crate::model::keys::INSTALLED.blocks,
            &[],
            self.diags,
        );
        let release = r.attr("release").and_then(|a| {
            let v = version_text(a, self.diags)?;
            let parsed = Version::parse(&v.value).map(|ver| Spanned::new(ver, v.span));
            if parsed.is_none() {
                invalid(self.diags, v.span, format!("`{}` is not a vGPU software release", v.value), "write the release as `17.1`");
            }
            parsed
        });
        let driver = r.attr("driver").and_then(|a| version_text(a, self.diags)).filter(|d| {
            let ok = Version::parse(&d.value).is_some();
            if !ok {
                invalid(
                    self.diags,
                    d.span,
                    format!("`{}` is not a driver version", d.value),
                    "copy the version `esxcli software vib list` shows, e.g. \"550.54.16\"",
                );
            }
            ok
        });
        let graphics = r
            .attr("graphics")
            .and_then(|a| word(a, &[("shared_direct", GraphicsType::SharedDirect), ("shared", GraphicsType::Shared)], self.diags));
        let assignment = r.attr("assignment").and_then(|a| {
            word(a, &[("performance", AssignmentPolicy::Performance), ("consolidation", AssignmentPolicy::Consolidation)], self.diags)
        });
        let parameters = r.attr("parameters").and_then(|a| string_value(a, self.diags));
        let passthrough = self.host_gpus(host, r.attr("passthrough"));
        let mixed_size = self.host_gpus(host, r.attr("mixed_size"));
        let mig = self.host_gpus(host, r.attr("mig"));
        let ecc_off = self.host_gpus(host, r.attr("ecc_off"));
        let incomplete = self.diags.len() > reported_before;
        Installed {
            span: block.key.span,
            release,
            driver,
            graphics,
            assignment,
            passthrough,
            mixed_size,
            mig,
            ecc_off,
            parameters,
            incomplete,
        }
    }

    /// The host's own GPUs named in a list attribute (`passthrough g1, g2`).
    fn host_gpus(&mut self, host: HostId, attr: Option<&Attribute>) -> Vec<GpuId> {
        let Some(a) = attr else { return Vec::new() };
        let mut gpus = Vec::new();
        for v in &a.values {
            let Some(name) = value_name(v) else {
                wrong_kind(self.diags, a, v, "names of the host's GPUs, e.g. `g0, g1`");
                continue;
            };
            let table = self.names.gpus.get(&host);
            match table.and_then(|t| t.get(name.value)) {
                Some(&gpu) if !gpus.contains(&gpu) => gpus.push(gpu),
                Some(_) => {}
                None => {
                    let candidates: Vec<&str> = table.map(|t| t.keys().copied().collect()).unwrap_or_default();
                    unknown(self.diags, "GPU of this host", &name, candidates);
                }
            }
        }
        gpus
    }
}
