//! What the syntax tree says at a place: the names declared and referred to (for go to
//! definition, references and rename) and the values hover explains.

use crate::source::Span;
use crate::syntax::ast::{Body, Entity, EntityKind, Entry, File, Item, Reference, ValueKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    Host,
    /// A GPU, named through its host (`esx14.g0`).
    Gpu,
    Vm,
    License,
    Pool,
}

/// A declared thing, by kind and name (a GPU's name is `host.gpu`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
}

/// Where a symbol's name is written: its declaration or a reference. The span covers only
/// the part a rename replaces (`g0` of `esx14.g0` for the GPU, `esx14` for the host).
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub symbol: Symbol,
    pub span: Span,
    pub declaration: bool,
}

fn symbol(kind: SymbolKind, name: impl Into<String>) -> Symbol {
    Symbol { kind, name: name.into() }
}

/// Every declaration and reference of hosts, GPUs, VMs, licences and pools in a file.
pub fn occurrences(file: &File) -> Vec<Occurrence> {
    let mut found = Vec::new();
    for item in &file.items {
        let Item::Entity(entity) = item else { continue };
        let name = entity.name.ident;
        let kind = match entity.kind {
            EntityKind::License => SymbolKind::License,
            EntityKind::Host => SymbolKind::Host,
            EntityKind::Vm => SymbolKind::Vm,
            EntityKind::Bitfusion => SymbolKind::Pool,
        };
        found.push(Occurrence { symbol: symbol(kind, name.text), span: name.span, declaration: true });
        body_occurrences(entity, &entity.body, &mut found);
    }
    found
}

fn body_occurrences(entity: &Entity, body: &Body, found: &mut Vec<Occurrence>) {
    let owner = entity.name.ident.text;
    let reference = |found: &mut Vec<Occurrence>, kind: SymbolKind, at: Reference| match kind {
        SymbolKind::Gpu => gpu_reference(found, at, None),
        _ => found.push(Occurrence { symbol: symbol(kind, at.text), span: at.span, declaration: false }),
    };
    for entry in &body.entries {
        match entry {
            Entry::Block(block) => {
                match (entity.kind, block.key.text, block.name) {
                    (EntityKind::Host, "gpu", Some(gpu)) => found.push(Occurrence {
                        symbol: symbol(SymbolKind::Gpu, format!("{owner}.{}", gpu.text)),
                        span: gpu.span,
                        declaration: true,
                    }),
                    (EntityKind::Bitfusion, "server", Some(vm)) => {
                        found.push(Occurrence { symbol: symbol(SymbolKind::Vm, vm.text), span: vm.span, declaration: false })
                    }
                    _ => {}
                }
                if entity.kind == EntityKind::Host && block.key.text == "installed" {
                    // `passthrough g0, g1` inside `installed` names GPUs of this host.
                    for attribute in block.body.entries.iter().filter_map(|e| match e {
                        Entry::Attribute(a) => Some(a),
                        Entry::Block(_) => None,
                    }) {
                        if matches!(attribute.key.text, "passthrough" | "mixed_size" | "mig" | "ecc_off") {
                            for value in &attribute.values {
                                if let Some(gpu) = value.reference() {
                                    gpu_reference(found, gpu, Some(owner));
                                }
                            }
                        }
                    }
                } else {
                    body_occurrences(entity, &block.body, found);
                }
            }
            Entry::Attribute(attribute) => {
                let kind = match (entity.kind, attribute.key.text) {
                    (EntityKind::Vm, "host") => SymbolKind::Host,
                    (EntityKind::Vm, "license" | "licence") => SymbolKind::License,
                    (EntityKind::Vm, "passthrough" | "vgpu") => SymbolKind::Gpu,
                    _ => continue,
                };
                for value in &attribute.values {
                    match &value.kind {
                        ValueKind::Reference(_) if kind == SymbolKind::Gpu && attribute.key.text == "vgpu" => {}
                        ValueKind::Reference(_) => {
                            if let Some(target) = value.reference() {
                                reference(found, kind, target);
                            }
                        }
                        ValueKind::Placed(placed) => reference(found, SymbolKind::Gpu, placed.target),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `esx14.g0`: the host part refers to the host, the GPU part to the GPU. `g0` alone, inside
/// host `owner`, refers to that host's GPU.
fn gpu_reference(found: &mut Vec<Occurrence>, at: Reference, owner: Option<&str>) {
    match (at.second(), owner) {
        (Some(gpu), _) => {
            let host = at.first();
            found.push(Occurrence { symbol: symbol(SymbolKind::Host, host.text), span: host.span, declaration: false });
            found.push(Occurrence {
                symbol: symbol(SymbolKind::Gpu, format!("{}.{}", host.text, gpu.text)),
                span: gpu.span,
                declaration: false,
            });
        }
        (None, Some(host)) => {
            found.push(Occurrence { symbol: symbol(SymbolKind::Gpu, format!("{host}.{}", at.text)), span: at.span, declaration: false })
        }
        (None, None) => {}
    }
}

/// A value hover explains.
pub enum Spot<'s> {
    /// A vGPU type in a VM's `vgpu` line; `vm` is the span of the VM's name.
    VgpuType { name: &'s str, span: Span, vm: Span },
    /// A board after a GPU's `model`.
    GpuModel { name: &'s str, span: Span },
    /// A VM's name where it is declared.
    VmName { vm: Span },
}

fn contains(span: Span, offset: usize) -> bool {
    span.start as usize <= offset && offset <= span.end as usize
}

/// The entity whose block holds a byte offset.
pub fn entity_at<'f, 's>(file: &'f File<'s>, offset: usize) -> Option<&'f Entity<'s>> {
    file.items.iter().find_map(|item| match item {
        Item::Entity(entity) if entity.keyword.start as usize <= offset && offset <= entity.body.span.end as usize => Some(entity),
        _ => None,
    })
}

/// What hover can explain at a byte offset, if anything.
pub fn spot_at<'s>(file: &File<'s>, offset: usize) -> Option<Spot<'s>> {
    let entity = entity_at(file, offset)?;
    if entity.kind == EntityKind::Vm && contains(entity.name.span, offset) {
        return Some(Spot::VmName { vm: entity.name.span });
    }
    let mut bodies = vec![&entity.body];
    while let Some(body) = bodies.pop() {
        for entry in &body.entries {
            match entry {
                Entry::Block(block) => bodies.push(&block.body),
                Entry::Attribute(attribute) => {
                    for value in attribute.values.iter().filter(|v| contains(v.span, offset)) {
                        match (&value.kind, entity.kind, attribute.key.text) {
                            (ValueKind::Reference(name), EntityKind::Vm, "vgpu") => {
                                return Some(Spot::VgpuType { name, span: value.span, vm: entity.name.span })
                            }
                            (ValueKind::Placed(placed), EntityKind::Vm, "vgpu") if contains(placed.item.span, offset) => {
                                return Some(Spot::VgpuType { name: placed.item.text, span: placed.item.span, vm: entity.name.span })
                            }
                            (ValueKind::Reference(name), EntityKind::Host, "model") => {
                                return Some(Spot::GpuModel { name, span: value.span })
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    None
}
