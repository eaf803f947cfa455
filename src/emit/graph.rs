//! The step graph as Graphviz DOT (`graph.dot`) or Mermaid (for pull-request comments).

use super::describe::title;
use crate::model::Model;
use crate::plan::Plan;
use std::fmt::Write;

/// Text safe inside a double-quoted DOT or Mermaid label.
fn label(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "'").replace('\n', " ")
}

/// Writes the graph as DOT to `out` as it goes (a large estate's is tens of MB).
pub fn dot(out: &mut dyn Write, model: &Model, plan: &Plan) {
    let _ = out.write_str("digraph plan {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for &id in &plan.order {
        let step = plan.step(id);
        let style = if step.action.manual() { ", style=dashed" } else { "" };
        let _ = writeln!(out, "  s{} [label=\"{}\"{style}];", id.0, label(&title(model, plan, id)));
    }
    for &id in &plan.order {
        for dep in plan.dependencies(id) {
            let _ = writeln!(out, "  s{} -> s{};", dep.0, id.0);
        }
    }
    let _ = out.write_str("}\n");
}

pub fn mermaid(model: &Model, plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for &id in &plan.order {
        let _ = writeln!(out, "  s{}[\"{}\"]", id.0, label(&title(model, plan, id)));
    }
    for &id in &plan.order {
        for dep in plan.dependencies(id) {
            let _ = writeln!(out, "  s{} --> s{}", dep.0, id.0);
        }
    }
    out
}
