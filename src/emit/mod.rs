//! Emitting: the checked model and its plan to the files an administrator applies. Every
//! function here is pure: it returns (path, text) pairs and the CLI writes them. Output is
//! deterministic: no timestamps, no hash-map order. Paths are built from names, which the
//! grammar restricts to letters, digits, `_` and `-`, so they stay inside the output folder.

mod describe;
pub mod graph;
pub mod gridd;
pub mod plan_md;
pub mod runbook;
pub mod servers;
pub mod vmx;

use crate::plan::Plan;
use crate::Checked;

/// One output file: a path relative to the output folder, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artefact {
    pub path: String,
    pub text: String,
}

/// Every artefact of a checked estate, sorted by path.
pub fn artefacts(checked: &Checked, plan: &Plan) -> Vec<Artefact> {
    let model = &checked.model;
    // Each host's scripts are rendered once; plan.md names them by phase.
    let scripts: Vec<Vec<(String, String)>> = model.host_ids().map(|h| runbook::scripts(model, plan, h)).collect();
    let names: Vec<Vec<String>> = scripts.iter().map(|s| s.iter().map(|(name, _)| name.clone()).collect()).collect();
    let mut out = vec![
        Artefact { path: "plan.md".to_string(), text: plan_md::render(model, &checked.analysis, plan, &checked.sources, &names) },
        Artefact { path: "graph.dot".to_string(), text: graph::dot(model, plan) },
    ];
    for (host, host_scripts) in model.host_ids().zip(scripts) {
        for (name, text) in host_scripts {
            out.push(Artefact { path: format!("hosts/{}/{name}", model.host(host).name), text });
        }
    }
    for vm in model.vm_ids() {
        let v = model.vm(vm);
        if !v.has_gpu() {
            continue;
        }
        let (line, _) = checked.sources.line_col(v.span.file, v.span.start);
        let file = checked.sources.get(v.span.file).map_or("?", |f| f.name.as_str());
        out.push(Artefact {
            path: format!("vms/{}.vmx", v.name),
            text: vmx::fragment(model, &checked.analysis, vm, &format!("{file}:{line}")),
        });
        if let Some(text) = gridd::conf(model, vm) {
            out.push(Artefact { path: format!("guests/{}/gridd.conf", v.name), text });
        }
    }
    for (p, pool) in model.pools.iter().enumerate() {
        let id = crate::model::PoolId(p as u32);
        for (c, client) in pool.clients.iter().enumerate() {
            out.push(Artefact { path: format!("bitfusion/{}/{}/servers.conf", pool.name, client.name), text: servers::conf(model, id, c) });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
