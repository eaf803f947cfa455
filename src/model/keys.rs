//! The attributes and nested blocks each kind of block takes. Lowering reads blocks with these
//! lists (and reports any other key, with a did-you-mean), and the language server completes
//! from them, so the two cannot drift apart.

/// What one kind of block takes.
pub struct BlockKeys {
    /// `key value` attributes.
    pub attrs: &'static [&'static str],
    /// Nested `key { ... }` blocks.
    pub blocks: &'static [&'static str],
}

impl BlockKeys {
    /// Every key, attributes first.
    pub fn all(&self) -> impl Iterator<Item = &'static str> {
        self.attrs.iter().chain(self.blocks).copied()
    }
}

/// The keywords that start an item of a file.
pub const TOP: &[&str] = &["host", "vm", "license", "bitfusion", "import", "catalog"];

pub const LICENSE: BlockKeys = BlockKeys { attrs: &["server", "port", "backup", "backup_port", "token"], blocks: &[] };
pub const HOST: BlockKeys = BlockKeys {
    attrs: &["address", "cluster", "system_id", "esxi", "memory", "assignment", "graphics", "image_managed"],
    blocks: &["gpu", "bios", "nvidia", "installed"],
};
pub const BIOS: BlockKeys = BlockKeys { attrs: &["above_4g_decoding", "sr_iov"], blocks: &[] };
pub const NVIDIA: BlockKeys = BlockKeys { attrs: &["product", "vib", "release", "scheduler", "time_slice"], blocks: &[] };
/// `installed`: one key for everything a runbook would otherwise change.
pub const INSTALLED: BlockKeys = BlockKeys {
    attrs: &["release", "driver", "graphics", "assignment", "passthrough", "mixed_size", "mig", "ecc_off", "parameters"],
    blocks: &[],
};
pub const GPU: BlockKeys = BlockKeys { attrs: &["model", "pci", "use", "mode", "ecc"], blocks: &[] };
pub const VM: BlockKeys = BlockKeys {
    attrs: &["host", "memory", "cpus", "firmware", "reservation", "mmio", "passthrough", "vgpu", "vmotion", "drs", "snapshots"],
    blocks: &["guest"],
};
pub const GUEST: BlockKeys = BlockKeys { attrs: &["os", "driver", "cuda", "license", "licence", "product"], blocks: &[] };
pub const BITFUSION: BlockKeys = BlockKeys { attrs: &["flexdirect", "bitfusion"], blocks: &["server", "client"] };
pub const POOL_SERVER: BlockKeys = BlockKeys { attrs: &["address"], blocks: &[] };
pub const POOL_CLIENT: BlockKeys = BlockKeys { attrs: &["address", "servers", "gpus", "share", "memory"], blocks: &[] };

/// The keys of the block a keyword opens (`licence` is the same block as `license`).
pub fn of(block: &str) -> Option<&'static BlockKeys> {
    Some(match block {
        "license" | "licence" => &LICENSE,
        "host" => &HOST,
        "bios" => &BIOS,
        "nvidia" => &NVIDIA,
        "installed" => &INSTALLED,
        "gpu" => &GPU,
        "vm" => &VM,
        "guest" => &GUEST,
        "bitfusion" => &BITFUSION,
        "server" => &POOL_SERVER,
        "client" => &POOL_CLIENT,
        _ => return None,
    })
}
