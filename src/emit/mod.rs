//! Emitting: the checked model and its plan to the files an administrator applies. Nothing
//! here touches the disk: files are (path, text) pairs handed to a [`Sink`], and the CLI's sink
//! writes them. Output is deterministic: no timestamps, no hash-map order. Paths are built from names, which the
//! grammar restricts to letters, digits, `_` and `-`, so they stay inside the output folder.

pub mod ansible;
mod describe;
pub mod graph;
pub mod gridd;
pub mod plan_md;
pub mod runbook;
pub mod servers;
pub mod vmx;

use crate::model::{HostId, Model, PoolId, VmId};
use crate::plan::{Plan, StepId};
use crate::Checked;
use std::borrow::Cow;
use std::fmt::Write;

/// One output file: a path relative to the output folder, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artefact {
    pub path: String,
    pub text: String,
}

/// What one part of the output is made from. Listing the parts is cheap; each is rendered on
/// demand, so a writer can render and write part by part on every core instead of holding the
/// whole output (hundreds of MB for a large estate) in memory first.
#[derive(Clone, Copy, Debug)]
enum Part {
    Plan,
    /// `plan/<host>.md` of a plan split per host ([`plan_md::split`]).
    PlanHost(HostId),
    Graph,
    Ansible,
    Host(HostId),
    Vm(VmId),
    /// A `gridd.conf` shared by the guests of one licence and feature type.
    Gridd(gridd::Shared),
    Client(PoolId, usize),
}

/// The estate grouped by host, once: a host's part (its scripts, its `plan/<host>.md`) reads its
/// own lists instead of scanning every VM or every step of the estate, which made a build of
/// 10,000 hosts quadratic (143 s).
pub(crate) struct ByHost {
    /// Each host's VMs in spec order, by `HostId`.
    vms: Vec<Vec<VmId>>,
    /// The plan.md section steps of each host in plan order (its own and its VMs' and guests'),
    /// by `HostId`.
    steps: Vec<Vec<StepId>>,
    /// The steps of no host (vCenter, pools, VMs without a host), in plan order.
    estate: Vec<StepId>,
}

impl ByHost {
    pub(crate) fn new(model: &Model, plan: &Plan) -> Self {
        let mut vms: Vec<Vec<VmId>> = vec![Vec::new(); model.hosts.len()];
        for vm in model.vm_ids() {
            if let Some(list) = model.vm(vm).host.and_then(|h| vms.get_mut(h.index())) {
                list.push(vm);
            }
        }
        let mut steps: Vec<Vec<StepId>> = vec![Vec::new(); model.hosts.len()];
        let mut estate = Vec::new();
        for &id in &plan.order {
            match plan_md::section_host(model, plan.step(id).target).and_then(|h| steps.get_mut(h.index())) {
                Some(list) => list.push(id),
                None => estate.push(id),
            }
        }
        ByHost { vms, steps, estate }
    }

    /// The VMs on `host`, in spec order.
    pub(crate) fn vms(&self, host: HostId) -> &[VmId] {
        self.vms.get(host.index()).map_or(&[], Vec::as_slice)
    }

    /// The plan.md steps of `host`'s sections, in plan order.
    pub(crate) fn steps(&self, host: HostId) -> &[StepId] {
        self.steps.get(host.index()).map_or(&[], Vec::as_slice)
    }

    /// The steps outside any host, in plan order.
    pub(crate) fn estate_steps(&self) -> &[StepId] {
        &self.estate
    }
}

/// The output of a checked estate as parts to render, in any order and on any thread.
pub struct Output<'a> {
    checked: &'a Checked,
    plan: &'a Plan,
    /// Each host's script file names, by `HostId`: plan.md names them by phase.
    script_names: Vec<Vec<String>>,
    by_host: ByHost,
    /// The largest parts first (plan.md, graph.dot, a split plan's host parts), so parallel
    /// writers finish together.
    parts: Vec<Part>,
}

impl<'a> Output<'a> {
    pub fn new(checked: &'a Checked, plan: &'a Plan) -> Self {
        let model = &checked.model;
        let script_names = model.host_ids().map(|h| runbook::script_names(plan, h)).collect();
        let by_host = ByHost::new(model, plan);
        let mut parts = Vec::with_capacity(3 + 2 * model.hosts.len() + model.vms.len());
        parts.extend([Part::Plan, Part::Graph, Part::Ansible]);
        if plan_md::split(model) {
            parts.extend(model.host_ids().filter(|&h| !by_host.steps(h).is_empty()).map(Part::PlanHost));
        }
        parts.extend(model.host_ids().map(Part::Host));
        let gpu_vms = || model.vm_ids().filter(|&vm| model.vm(vm).has_gpu());
        parts.extend(gpu_vms().map(Part::Vm));
        let shared: std::collections::BTreeSet<gridd::Shared> = gpu_vms().filter_map(|vm| gridd::of(model, vm)).collect();
        parts.extend(shared.into_iter().map(Part::Gridd));
        for (p, pool) in model.pools.iter().enumerate() {
            parts.extend((0..pool.clients.len()).map(|c| Part::Client(PoolId(p as u32), c)));
        }
        Output { checked, plan, script_names, by_host, parts }
    }

    /// How many parts there are; [`Output::render`] takes an index below this.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// Renders part `index` into `sink`: one file, or a host's scripts. Nothing for an index out
    /// of range.
    pub fn render(&self, index: usize, sink: &mut dyn Sink) {
        let (checked, plan) = (self.checked, self.plan);
        let model = &checked.model;
        let Some(&part) = self.parts.get(index) else {
            return;
        };
        match part {
            Part::Plan => {
                sink.start("plan.md");
                plan_md::render(sink.as_write(), model, &checked.analysis, plan, &checked.sources, &self.script_names, &self.by_host);
            }
            Part::PlanHost(host) => {
                sink.start(&format!("plan/{}.md", model.host(host).name));
                plan_md::render_host(sink.as_write(), model, &checked.analysis, plan, &self.script_names, &self.by_host, host);
            }
            Part::Graph => {
                sink.start("graph.dot");
                graph::dot(sink.as_write(), model, plan);
            }
            Part::Ansible => {
                for (path, text) in ansible::files(model, &checked.analysis, plan, &self.script_names) {
                    sink.file(&path, &text);
                }
            }
            Part::Host(host) => {
                let name = &model.host(host).name;
                for (script, text) in runbook::scripts(model, plan, host, self.by_host.vms(host)) {
                    sink.file(&format!("hosts/{name}/{script}"), &text);
                }
            }
            Part::Vm(vm) => sink.file(&format!("vms/{}.vmx", model.vm(vm).name), &vmx::fragment(model, &checked.analysis, vm)),
            Part::Gridd(shared) => sink.file(&shared.path(model), &gridd::text(model, shared)),
            Part::Client(pool, client) => {
                let pool_name = &model.pools[pool.index()].name;
                let client_name = &model.pools[pool.index()].clients[client].name;
                sink.file(&format!("bitfusion/{pool_name}/{client_name}/servers.conf"), &servers::conf(model, pool, client));
            }
        }
    }
}

/// Where rendered files go, one after another: the CLI's sink writes each to disk as its text
/// comes, so no large file is ever whole in memory; [`artefacts`] collects them as strings.
pub trait Sink: Write {
    /// Ends the current file, if any, and starts the one at `path` (relative to the output
    /// folder); text written from now on goes into it.
    fn start(&mut self, path: &str);

    /// The sink as a plain text writer, for renderers that stream.
    fn as_write(&mut self) -> &mut dyn Write;

    /// A whole file at once.
    fn file(&mut self, path: &str, text: &str) {
        self.start(path);
        let _ = self.write_str(text);
    }
}

/// Collects rendered files as [`Artefact`]s.
#[derive(Default)]
struct Collect(Vec<Artefact>);

impl Write for Collect {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        match self.0.last_mut() {
            Some(artefact) => {
                artefact.text.push_str(text);
                Ok(())
            }
            None => Err(std::fmt::Error),
        }
    }
}

impl Sink for Collect {
    fn start(&mut self, path: &str) {
        self.0.push(Artefact { path: path.to_string(), text: String::new() });
    }

    fn as_write(&mut self) -> &mut dyn Write {
        self
    }
}

/// `text` for a comment line: control characters (a line break in a spec string, a file
/// name) become spaces, so the text cannot end the comment early. Borrowed when it has none.
fn one_line(text: &str) -> Cow<'_, str> {
    // Control characters are ASCII below 0x20, DEL, or U+0080-U+009F (UTF-8 lead byte 0xC2).
    if !text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
}

/// Every artefact of a checked estate, sorted by path.
pub fn artefacts(checked: &Checked, plan: &Plan) -> Vec<Artefact> {
    let output = Output::new(checked, plan);
    let mut sink = Collect::default();
    (0..output.parts()).for_each(|i| output.render(i, &mut sink));
    sink.0.sort_by(|a, b| a.path.cmp(&b.path));
    sink.0
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_comment_line_cannot_be_broken() {
        assert_eq!(one_line("lab.gpu:3"), "lab.gpu:3");
        assert_eq!(one_line("a\nb\rc\td\u{7f}e"), "a b c d e");
        // C1 controls (U+0085 NEL) too; other characters starting with byte 0xC2 stay.
        assert_eq!(one_line("a\u{85}b ¢"), "a b ¢");
    }
}
