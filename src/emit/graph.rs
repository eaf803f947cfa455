//! The step graph as Graphviz DOT (`graph.dot`) or Mermaid (for pull-request comments), grouped
//! the way plan.md is: a host and, inside it, its phases (one script each); a VM; vCenter; a
//! Bitfusion pool. Node ids are built from names, so adding a VM adds its nodes and leaves
//! every other node's id as it was.

use super::describe::title;
use super::runbook::script_names;
use crate::model::Model;
use crate::plan::{Plan, StepId, Target};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Mermaid's default `maxTextSize`, in characters: a longer diagram is refused with "Maximum
/// text size in diagram exceeded" (Mermaid Config Schema, `maxTextSize`, default 50000:
/// <https://mermaid.js.org/config/schema-docs/config-properties-maxtextsize.html>). GitHub
/// documents no Mermaid limit of its own; a comment body is refused above 65,536 characters
/// (the REST API's "Body is too long (maximum is 65536 characters)"), so this fits either way.
pub const MERMAID_MAX_TEXT: usize = 50_000;

/// Mermaid's default `maxEdges`: a flowchart with more is refused with "Too many edges"
/// (Mermaid Config Schema, `maxEdges`, default 500:
/// <https://mermaid.js.org/config/schema-docs/config-properties-maxedges.html>).
pub const MERMAID_MAX_EDGES: usize = 500;

/// Text safe inside a double-quoted DOT or Mermaid label.
fn label(text: &str) -> Cow<'_, str> {
    if !text.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace('\\', "\\\\").replace('"', "'").replace('\n', " "))
}

/// A name as an identifier that no other name maps to: letters and digits stay, `_` becomes
/// `__`, `-` becomes `_h`, anything else `_u<hex>_`. Read from the left, a `_` is always
/// followed by `_`, `h` or `u`, so `_x` and `_p` after a name ([`node_ids`], the phase
/// subgraphs) cannot be part of it.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            c if c.is_ascii_alphanumeric() => out.push(c),
            '_' => out.push_str("__"),
            '-' => out.push_str("_h"),
            c => {
                let _ = write!(out, "_u{:x}_", c as u32);
            }
        }
    }
    out
}

/// The group a step is drawn in: a guest's steps belong to its VM.
fn group_of(target: Target) -> Target {
    match target {
        Target::Guest(v) => Target::Vm(v),
        t => t,
    }
}

/// `host_esx14`, `vm_dev1`, `pool_pool`, `vcenter`: unique per target.
fn target_id(model: &Model, target: Target) -> String {
    match group_of(target) {
        Target::Host(h) => format!("host_{}", escape(&model.host(h).name)),
        Target::Vm(v) | Target::Guest(v) => format!("vm_{}", escape(&model.vm(v).name)),
        Target::Pool(p) => format!("pool_{}", escape(&model.pools[p.index()].name)),
        Target::VCenter => "vcenter".to_string(),
    }
}

fn group_label(model: &Model, target: Target) -> String {
    match group_of(target) {
        Target::Host(h) => {
            let host = model.host(h);
            if host.address.is_empty() {
                format!("Host {}", host.name)
            } else {
                format!("Host {} ({})", host.name, host.address)
            }
        }
        Target::Vm(v) | Target::Guest(v) => format!("VM {}", model.vm(v).name),
        Target::Pool(p) => format!("Bitfusion pool {}", model.pools[p.index()].name),
        Target::VCenter => "vCenter".to_string(),
    }
}

/// Each step's node id (by `StepId`): its target's id, `_x`, then what the step does in
/// letters, digits and `_` (at most 48), with `__2`, `__3` for a repeat on the same target
/// (a host's second reboot). The slug never holds `__`, so a repeat cannot meet another id.
fn node_ids(model: &Model, plan: &Plan) -> Vec<String> {
    let mut ids = vec![String::new(); plan.steps.len()];
    let mut slug = String::new();
    for &id in &plan.order {
        let title = title(model, plan, id);
        let what = title.split_once(": ").map_or(title.as_str(), |(_, w)| w);
        slug.clear();
        for word in what.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
            if slug.len() + word.len() >= 48 {
                break;
            }
            if !slug.is_empty() {
                slug.push('_');
            }
            slug.push_str(word);
        }
        if slug.is_empty() {
            slug.push_str("step");
        }
        ids[id.0 as usize] = format!("{}_x{slug}", target_id(model, plan.step(id).target));
    }
    // Repeats, counted in plan order over the ids as built (borrowed, not copied: an estate of
    // 10,000 hosts has hundreds of thousands of steps).
    let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
    let repeat: Vec<(usize, usize)> = plan
        .order
        .iter()
        .filter_map(|&id| {
            let count = seen.entry(ids[id.0 as usize].as_str()).or_insert(0);
            *count += 1;
            (*count > 1).then_some((id.0 as usize, *count))
        })
        .collect();
    for (index, count) in repeat {
        let _ = write!(ids[index], "__{count}");
    }
    ids
}

/// The steps of one target in plan order, a host's split by phase (phase 0 for the others).
struct Group {
    target: Target,
    phases: Vec<(u32, Vec<StepId>)>,
}

/// The plan's steps grouped by target, groups in order of their first step.
fn groups(plan: &Plan) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: FxHashMap<Target, usize> = FxHashMap::default();
    for &id in &plan.order {
        let step = plan.step(id);
        let target = group_of(step.target);
        let g = *index.entry(target).or_insert_with(|| {
            groups.push(Group { target, phases: Vec::new() });
            groups.len() - 1
        });
        let phase = if matches!(target, Target::Host(_)) { step.phase } else { 0 };
        let phases = &mut groups[g].phases;
        match phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, steps)) => steps.push(id),
            None => phases.push((phase, vec![id])),
        }
    }
    groups
}

/// `Phase 2: hosts/esx14/2-driver.sh`, as plan.md heads it.
fn phase_label(model: &Model, target: Target, phase: u32, scripts: &[String]) -> String {
    match (target, scripts.get((phase as usize).wrapping_sub(1))) {
        (Target::Host(h), Some(script)) => format!("Phase {phase}: hosts/{}/{script}", model.host(h).name),
        _ => format!("Phase {phase}"),
    }
}

const LEGEND_SCRIPTED: &str = "scripted step: runs in the host's phase script";
const LEGEND_MANUAL: &str = "manual step: done by hand, as plan.md says";

/// Writes the graph as DOT to `out` as it goes (a large estate's is tens of MB): one cluster
/// per target, one per phase inside a host's, and a legend.
pub fn dot(out: &mut dyn Write, model: &Model, plan: &Plan) {
    let ids = node_ids(model, plan);
    let _ = out.write_str("digraph plan {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    let _ = writeln!(
        out,
        "  subgraph cluster_legend {{\n    label=\"Legend\";\n    legend_scripted [label=\"{LEGEND_SCRIPTED}\"];\n    legend_manual [label=\"{LEGEND_MANUAL}\", style=dashed];\n  }}"
    );
    for group in groups(plan) {
        let gid = target_id(model, group.target);
        let _ = writeln!(out, "  subgraph cluster_{gid} {{\n    label=\"{}\";", label(&group_label(model, group.target)));
        let scripts = match group.target {
            Target::Host(h) => script_names(plan, h),
            _ => Vec::new(),
        };
        for (phase, steps) in &group.phases {
            let indent = if *phase > 0 {
                let _ = writeln!(
                    out,
                    "    subgraph cluster_{gid}_p{phase} {{\n      label=\"{}\";",
                    label(&phase_label(model, group.target, *phase, &scripts))
                );
                "      "
            } else {
                "    "
            };
            for &id in steps {
                let style = if plan.step(id).action.manual() { ", style=dashed" } else { "" };
                let _ = writeln!(out, "{indent}{} [label=\"{}\"{style}];", ids[id.0 as usize], label(&title(model, plan, id)));
            }
            if *phase > 0 {
                let _ = out.write_str("    }\n");
            }
        }
        let _ = out.write_str("  }\n");
    }
    for &id in &plan.order {
        for dep in plan.dependencies(id) {
            let _ = writeln!(out, "  {} -> {};", ids[dep.0 as usize], ids[id.0 as usize]);
        }
    }
    let _ = out.write_str("}\n");
}

/// The graph as Mermaid, grouped like [`dot`]. A graph over Mermaid's default limits
/// ([`MERMAID_MAX_TEXT`], [`MERMAID_MAX_EDGES`]) would not render in a pull-request comment,
/// so it becomes [`mermaid_summary`]: hosts counted by phase, with a note.
pub fn mermaid(model: &Model, plan: &Plan) -> String {
    let edges: usize = plan.order.iter().map(|&id| plan.dependencies(id).len()).sum();
    if edges <= MERMAID_MAX_EDGES {
        let full = mermaid_full(model, plan);
        if full.len() <= MERMAID_MAX_TEXT {
            return full;
        }
        return mermaid_summary(model, plan, &format!("{} characters", full.len()));
    }
    mermaid_summary(model, plan, &format!("{edges} edges"))
}

fn mermaid_full(model: &Model, plan: &Plan) -> String {
    let ids = node_ids(model, plan);
    let mut out = String::from("flowchart TD\n  classDef manual stroke-dasharray: 5 5\n");
    let _ = writeln!(
        out,
        "  subgraph legend[\"Legend\"]\n    legend_scripted[\"{LEGEND_SCRIPTED}\"]\n    legend_manual[\"{LEGEND_MANUAL}\"]:::manual\n  end"
    );
    for group in groups(plan) {
        let gid = target_id(model, group.target);
        let _ = writeln!(out, "  subgraph grp_{gid}[\"{}\"]", label(&group_label(model, group.target)));
        let scripts = match group.target {
            Target::Host(h) => script_names(plan, h),
            _ => Vec::new(),
        };
        for (phase, steps) in &group.phases {
            let indent = if *phase > 0 {
                let _ =
                    writeln!(out, "    subgraph grp_{gid}_p{phase}[\"{}\"]", label(&phase_label(model, group.target, *phase, &scripts)));
                "      "
            } else {
                "    "
            };
            for &id in steps {
                let class = if plan.step(id).action.manual() { ":::manual" } else { "" };
                let _ = writeln!(out, "{indent}{}[\"{}\"]{class}", ids[id.0 as usize], label(&title(model, plan, id)));
            }
            if *phase > 0 {
                out.push_str("    end\n");
            }
        }
        out.push_str("  end\n");
    }
    for &id in &plan.order {
        for dep in plan.dependencies(id) {
            let _ = writeln!(out, "  {} --> {}", ids[dep.0 as usize], ids[id.0 as usize]);
        }
    }
    out
}

/// Where a step is counted in the summary: a host's phase by number and script name, or all
/// VMs, vCenter, or all Bitfusion pools together.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bucket {
    Phase(u32, String),
    Vms,
    VCenter,
    Pools,
}

impl Bucket {
    fn id(&self) -> String {
        match self {
            Bucket::Phase(phase, script) => format!("hosts_p{phase}_{}", escape(script)),
            Bucket::Vms => "vms".to_string(),
            Bucket::VCenter => "vcenter".to_string(),
            Bucket::Pools => "pools".to_string(),
        }
    }
}

/// The summary graph: per phase, how many hosts run each script; the VMs', vCenter's and
/// pools' steps counted; edges where any step of one bucket waits for one of another. `over`
/// says which limit the full graph passed.
fn mermaid_summary(model: &Model, plan: &Plan, over: &str) -> String {
    let scripts: Vec<Vec<String>> = model.host_ids().map(|h| script_names(plan, h)).collect();
    let bucket = |id: StepId| {
        let step = plan.step(id);
        match step.target {
            Target::Host(h) => {
                let script = scripts[h.index()].get((step.phase as usize).wrapping_sub(1)).cloned().unwrap_or_default();
                Bucket::Phase(step.phase, script)
            }
            Target::Vm(_) | Target::Guest(_) => Bucket::Vms,
            Target::VCenter => Bucket::VCenter,
            Target::Pool(_) => Bucket::Pools,
        }
    };
    // Per bucket: the targets it holds and its steps.
    let mut members: BTreeMap<Bucket, (BTreeSet<Target>, usize)> = BTreeMap::new();
    let mut edges: BTreeSet<(Bucket, Bucket)> = BTreeSet::new();
    for &id in &plan.order {
        let to = bucket(id);
        let entry = members.entry(to.clone()).or_default();
        entry.0.insert(group_of(plan.step(id).target));
        entry.1 += 1;
        for dep in plan.dependencies(id) {
            let from = bucket(dep);
            if from != to {
                edges.insert((from, to.clone()));
            }
        }
    }
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(
        out,
        "  note[\"Summary of {}: the full graph ({over}) is over what Mermaid renders by default ({MERMAID_MAX_TEXT} characters, {MERMAID_MAX_EDGES} edges), so hosts are counted by phase. Every step is in graph.dot (gpuc build) and gpuc graph --format dot.\"]",
        plural(plan.order.len(), "step", "steps")
    );
    let mut open_phase = None;
    for (bucket, (targets, steps)) in &members {
        let text = match bucket {
            Bucket::Phase(phase, script) => {
                if open_phase != Some(*phase) {
                    if open_phase.is_some() {
                        out.push_str("  end\n");
                    }
                    open_phase = Some(*phase);
                    let _ = writeln!(out, "  subgraph phase_{phase}[\"Phase {phase}\"]");
                }
                format!("{script}: {}", plural(targets.len(), "host", "hosts"))
            }
            Bucket::Vms => format!("{}: {}", plural(targets.len(), "VM", "VMs"), plural(*steps, "step", "steps")),
            Bucket::VCenter => format!("vCenter: {}", plural(*steps, "step", "steps")),
            Bucket::Pools => format!("{}: {}", plural(targets.len(), "Bitfusion pool", "Bitfusion pools"), plural(*steps, "step", "steps")),
        };
        if open_phase.is_some() && !matches!(bucket, Bucket::Phase(..)) {
            out.push_str("  end\n");
            open_phase = None;
        }
        let indent = if open_phase.is_some() { "    " } else { "  " };
        let _ = writeln!(out, "{indent}{}[\"{}\"]", bucket.id(), label(&text));
    }
    if open_phase.is_some() {
        out.push_str("  end\n");
    }
    for (from, to) in &edges {
        let _ = writeln!(out, "  {} --> {}", from.id(), to.id());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::checked;

    #[test]
    fn escaped_names_stay_apart() {
        let names = ["a_b", "a-b", "a__b", "a_hb", "a.b", "ab", "a_"];
        let escaped: BTreeSet<String> = names.iter().map(|n| escape(n)).collect();
        assert_eq!(escaped.len(), names.len(), "{escaped:?}");
        assert!(escaped.iter().all(|e| e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')));
    }

    const ESTATE: &str = r#"
license main { server "10.1.2.3" }
host esx-1 {
  address "esx1.lab.local"
  esxi "6.7.0 U1"
  bios { above_4g_decoding true }
  nvidia { vib "/vmfs/volumes/ds1/NVIDIA.vib"  release "6.2" }
  gpu g0 { model tesla-v100d-32gb pci 0000:0b:00.0  use vgpu }
}
vm viz_1 {
  host esx-1
  memory 32GiB
  firmware efi
  vgpu grid_v100d-8q
  guest { os linux driver "390.42" license main }
}
"#;

    #[test]
    fn node_ids_are_unique_and_come_from_names() {
        let c = checked(ESTATE);
        let plan = crate::plan::plan(&c.model, &c.analysis).expect("no cycle");
        let ids = node_ids(&c.model, &plan);
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), plan.order.len());
        // The host's reboots repeat on one target; each gets its own id.
        assert!(ids.contains(&"host_esx_h1_xreboot".to_string()) && ids.contains(&"host_esx_h1_xreboot__2".to_string()), "{ids:?}");
        assert!(ids.contains(&"vm_viz__1_xapply_the_vmx_fragment".to_string()), "{ids:?}");
    }

    #[test]
    fn groups_by_host_and_phase_with_a_legend() {
        let c = checked(ESTATE);
        let plan = crate::plan::plan(&c.model, &c.analysis).expect("no cycle");
        let mut dot_text = String::new();
        dot(&mut dot_text, &c.model, &plan);
        assert!(dot_text.contains("subgraph cluster_legend {"), "{dot_text}");
        assert!(dot_text.contains("subgraph cluster_host_esx_h1 {\n    label=\"Host esx-1 (esx1.lab.local)\";"), "{dot_text}");
        assert!(dot_text.contains("subgraph cluster_host_esx_h1_p1 {\n      label=\"Phase 1: hosts/esx-1/1-"), "{dot_text}");
        assert!(dot_text.contains("subgraph cluster_vm_viz__1 {\n    label=\"VM viz_1\";"), "{dot_text}");
        let mermaid_text = mermaid(&c.model, &plan);
        assert!(
            mermaid_text.contains("  subgraph grp_host_esx_h1[\"Host esx-1 (esx1.lab.local)\"]\n    subgraph grp_host_esx_h1_p1["),
            "{mermaid_text}"
        );
        assert!(mermaid_text.contains("  subgraph grp_vm_viz__1[\"VM viz_1\"]\n    vm_viz__1_xapply_the_vmx_fragment[\"viz_1: apply the .vmx fragment\"]:::manual"), "{mermaid_text}");
        assert!(mermaid_text.len() <= MERMAID_MAX_TEXT && !mermaid_text.contains("note["));
    }
}
