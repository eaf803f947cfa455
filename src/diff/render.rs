//! A [`Review`] as text: plain lines for a terminal, Markdown for a pull-request comment (a
//! summary table, then collapsible details), or JSON. Output is deterministic: entities come
//! in the order of the new version, removed ones after.

use super::{GpuReview, KeyChange, Occupancy, Presence, Review};
use serde::Serialize;
use std::fmt::Write;

/// Rows per Markdown details table: a change that touches a whole estate still gives a comment
/// GitHub renders (a comment holds at most 65,536 characters); the rest is one line away.
pub const MARKDOWN_ROWS: usize = 50;

/// Which versions were compared, as the user named them (`examples/lab.gpu`, `main`).
#[derive(Clone, Copy, Serialize)]
pub struct Labels<'a> {
    pub old: &'a str,
    pub new: &'a str,
}

fn presence(p: Presence) -> &'static str {
    match p {
        Presence::Added => "added",
        Presence::Removed => "removed",
        Presence::Changed => "changed",
    }
}

/// The summary in one sentence.
fn headline(review: &Review) -> String {
    let s = &review.summary;
    if review.hosts.is_empty() && review.vms.is_empty() && review.gpus.is_empty() && review.guests.is_empty() {
        return "no change to what the estate needs".to_string();
    }
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} of {} with runbook steps to run ({}, {} in maintenance mode); {} of {} to power off; {} with .vmx changes; {}; {} whose occupancy changes; {} whose driver or licence changes",
        s.hosts_with_work,
        plural(s.hosts, "host", "hosts"),
        plural(s.reboots, "reboot", "reboots"),
        s.hosts_in_maintenance_mode,
        s.vms_powered_off,
        plural(s.vms, "VM", "VMs"),
        plural(s.vmx_changes, "VM", "VMs"),
        plural(s.firmware_changes, "firmware change", "firmware changes"),
        plural(s.gpus_changed, "GPU", "GPUs"),
        plural(s.guests_changed, "guest", "guests"),
    )
}

fn key_line(k: &KeyChange) -> String {
    match (&k.old, &k.new) {
        (None, Some(new)) => format!("+ {} = \"{new}\"", k.key),
        (Some(old), None) => format!("- {} = \"{old}\"", k.key),
        (Some(old), Some(new)) => format!("~ {} = \"{old}\" -> \"{new}\"", k.key),
        (None, None) => format!("  {}", k.key),
    }
}

fn occupancy(o: Option<&Occupancy>) -> String {
    let Some(o) = o else { return "not in the spec".to_string() };
    let on = if o.occupants.is_empty() { "unused".to_string() } else { o.occupants.join(", ") };
    match &o.frame_buffer {
        Some(fb) => format!("{}: {on} ({fb} frame buffer)", o.usage),
        None => format!("{}: {on}", o.usage),
    }
}

fn guest_change(label: &str, pair: &Option<[Option<String>; 2]>) -> Option<String> {
    let [before, after] = pair.as_ref()?;
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_string());
    Some(format!("{label} {} -> {}", show(before), show(after)))
}

fn guest_changes(g: &super::GuestReview) -> Vec<String> {
    let mut changes: Vec<String> = [guest_change("driver", &g.driver), guest_change("licence", &g.licence)].into_iter().flatten().collect();
    if g.gridd_conf {
        changes.push("gridd.conf changes".to_string());
    }
    changes
}

fn gpu_line(g: &GpuReview) -> String {
    format!("{} -> {}", occupancy(g.before.as_ref()), occupancy(g.after.as_ref()))
}

/// Plain text for a terminal.
pub fn human(review: &Review, labels: Labels) -> String {
    let mut out = format!("{} -> {}: {}\n", labels.old, labels.new, headline(review));
    for h in &review.hosts {
        let _ = write!(out, "host {} ({})", h.name, presence(h.presence));
        if !h.phases.is_empty() {
            let _ = write!(out, ": runs {} in maintenance mode, {} reboot(s)", h.phases.join(", "), h.reboots);
        }
        out.push('\n');
    }
    for v in &review.vms {
        let _ = write!(out, "vm {} ({})", v.name, presence(v.presence));
        if let Some(host) = &v.host {
            let _ = write!(out, " on {host}");
        }
        out.push('\n');
        for reason in &v.power_off {
            let _ = writeln!(out, "  power off: {reason}");
        }
        if let Some(firmware) = &v.firmware {
            let _ = writeln!(out, "  {firmware}");
        }
        for k in &v.keys {
            let _ = writeln!(out, "  {}", key_line(k));
        }
    }
    for g in &review.gpus {
        let _ = writeln!(out, "gpu {}: {}", g.name, gpu_line(g));
    }
    for g in &review.guests {
        let _ = writeln!(out, "guest {}: {}", g.vm, guest_changes(g).join("; "));
    }
    out
}

/// Text for a Markdown table cell: no line breaks, and `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "\\|").replace('<', "&lt;")
}

/// Text as inline code in a table cell (a backtick would end the code span).
fn code(text: &str) -> String {
    format!("`{}`", cell(&text.replace('`', "'")))
}

/// A collapsible section holding a table of at most [`MARKDOWN_ROWS`] rows.
fn details(out: &mut String, title: &str, header: &str, rows: Vec<String>) {
    if rows.is_empty() {
        return;
    }
    let columns = header.matches('|').count() - 1;
    let _ = writeln!(out, "\n<details><summary>{title} ({})</summary>\n\n{header}\n|{}", rows.len(), "---|".repeat(columns));
    for row in rows.iter().take(MARKDOWN_ROWS) {
        let _ = writeln!(out, "{row}");
    }
    if rows.len() > MARKDOWN_ROWS {
        let _ = writeln!(out, "\n{} more: run `gpuc diff` for the whole list.", rows.len() - MARKDOWN_ROWS);
    }
    out.push_str("\n</details>\n");
}

/// Markdown for a pull-request comment.
pub fn markdown(review: &Review, labels: Labels) -> String {
    let s = &review.summary;
    let mut out = format!("### gpuc diff: {} → {}\n\n{}.\n", code(labels.old), code(labels.new), cell(&headline(review)));
    if review.hosts.is_empty() && review.vms.is_empty() && review.gpus.is_empty() && review.guests.is_empty() {
        return out;
    }
    let rows = [
        ("Hosts with runbook steps to run", format!("{} of {}", s.hosts_with_work, s.hosts)),
        ("Hosts in maintenance mode", s.hosts_in_maintenance_mode.to_string()),
        ("Reboots", s.reboots.to_string()),
        ("VMs to power off", format!("{} of {}", s.vms_powered_off, s.vms)),
        ("VMs whose .vmx keys change", s.vmx_changes.to_string()),
        ("Firmware changes", s.firmware_changes.to_string()),
        ("GPUs whose occupancy changes", s.gpus_changed.to_string()),
        ("Guests whose driver or licence changes", s.guests_changed.to_string()),
    ];
    out.push_str("\n| The change needs | |\n|---|---:|\n");
    for (what, count) in rows {
        let _ = writeln!(out, "| {what} | {count} |");
    }
    // A firmware change can leave a guest unbootable: never folded away.
    for v in review.vms.iter().filter_map(|v| v.firmware.as_ref().map(|f| (v, f))) {
        let _ = writeln!(out, "\n> [!WARNING]\n> **{}**: {}", v.0.name, cell(v.1));
    }
    let hosts = review
        .hosts
        .iter()
        .map(|h| {
            let phases: Vec<String> = h.phases.iter().map(|p| code(p)).collect();
            let maintenance = if h.maintenance_mode { "yes" } else { "no" };
            format!("| {} | {} | {} | {maintenance} | {} |", h.name, presence(h.presence), phases.join(", "), h.reboots)
        })
        .collect();
    details(&mut out, "Hosts", "| Host | | Phases that run | Maintenance mode | Reboots |", hosts);
    let vms = review
        .vms
        .iter()
        .map(|v| {
            let keys: Vec<String> = v.keys.iter().map(|k| code(&key_line(k))).collect();
            let power_off: Vec<String> = v.power_off.iter().map(|r| cell(r)).collect();
            format!(
                "| {} | {} | {} | {} | {} |",
                v.name,
                v.host.as_deref().unwrap_or(""),
                presence(v.presence),
                power_off.join("<br>"),
                keys.join("<br>")
            )
        })
        .collect();
    details(&mut out, "VMs", "| VM | Host | | Power off because | .vmx keys |", vms);
    let gpus = review
        .gpus
        .iter()
        .map(|g| format!("| {} | {} | {} |", g.name, cell(&occupancy(g.before.as_ref())), cell(&occupancy(g.after.as_ref()))))
        .collect();
    details(&mut out, "GPUs", "| GPU | Before | After |", gpus);
    let guests = review.guests.iter().map(|g| format!("| {} | {} |", g.vm, cell(&guest_changes(g).join("; ")))).collect();
    details(&mut out, "Guests", "| Guest | Changes |", guests);
    out
}

/// The review as one JSON document, with the labels of the versions compared.
pub fn json(review: &Review, labels: Labels) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct Document<'a> {
        old: &'a str,
        new: &'a str,
        #[serde(flatten)]
        review: &'a Review,
    }
    let mut text = serde_json::to_string_pretty(&Document { old: labels.old, new: labels.new, review })?;
    text.push('\n');
    Ok(text)
}
