//! Typed quantities shared by the model and the catalog.

use std::fmt;

/// A size in bytes. Written with binary units in sources (`512MiB`, `16GiB`, `1TiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;

impl ByteSize {
    pub const fn gib(n: u64) -> ByteSize {
        ByteSize(n * GIB)
    }

    pub const fn mib(n: u64) -> ByteSize {
        ByteSize(n * MIB)
    }

    /// Whole mebibytes, rounded up (what `memSize` and `sched.mem.min` count in).
    pub fn as_mib_ceil(self) -> u64 {
        self.0.div_ceil(MIB)
    }

    /// Whole gibibytes, rounded up (what `pciPassthru.64bitMMIOSizeGB` counts in).
    pub fn as_gib_ceil(self) -> u64 {
        self.0.div_ceil(GIB)
    }

    /// Parses `16GiB` style text (number and unit already split or not).
    pub fn parse(number: &str, unit: &str) -> Result<ByteSize, String> {
        let scale = match unit {
            "B" => 1,
            "KiB" => KIB,
            "MiB" => MIB,
            "GiB" => GIB,
            "TiB" => TIB,
            "KB" | "kB" | "MB" | "GB" | "TB" | "K" | "M" | "G" | "T" | "k" | "m" | "g" | "t" | "mb" | "gb" | "tb" | "kib" | "mib"
            | "gib" | "tib" => {
                let binary = match unit.to_ascii_lowercase().chars().next() {
                    Some('k') => "KiB",
                    Some('m') => "MiB",
                    Some('t') => "TiB",
                    _ => "GiB",
                };
                return Err(format!("sizes use binary units: write `{number}{binary}`"));
            }
            _ => return Err(format!("`{unit}` is not a size unit; use B, KiB, MiB, GiB or TiB")),
        };
        let whole: u64 =
            number.parse().map_err(|_| format!("`{number}` is not a whole number; write sizes in whole units (e.g. `1536MiB`)"))?;
        whole.checked_mul(scale).map(ByteSize).ok_or_else(|| "the size is too large".to_string())
    }

    /// Parses `16GiB` as one string (the catalog's form).
    pub fn parse_text(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let (number, unit) = split(text);
        if unit.is_empty() {
            return Err(format!("`{text}` has no unit; write e.g. `{text}GiB`"));
        }
        ByteSize::parse(number.trim(), unit)
    }
}

/// `16GiB` as (`16`, `GiB`), `3ms` as (`3`, `ms`): the number runs up to the first letter.
pub fn split(quantity: &str) -> (&str, &str) {
    quantity.split_at(quantity.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(quantity.len()))
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly: `16GiB`, `1536MiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (scale, unit) in [(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
            if self.0 >= scale && self.0 % scale == 0 {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// A dotted version such as `6.7.0`, `390.42` or `9.1` (one to four numbers), compared
/// component by component (missing components count as 0). Kept inline: every guest has two.
/// It prints with every digit it was written with: NVIDIA's `535.104.05` names a file, and
/// `535.104.5` does not exist.
#[derive(Clone, Copy, Debug, Default)]
pub struct Version {
    parts: [u32; 4],
    /// The digits each number was written with (leading zeros count).
    widths: [u8; 4],
    len: u8,
}

/// Equal when every component is (so `9.0` equals `9`), in line with [`Ord`].
impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let mut version = Version::default();
        for part in text.trim().split('.') {
            let slot = version.parts.get_mut(version.len as usize)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 9 {
                return None;
            }
            *slot = part.parse().ok()?;
            version.widths[version.len as usize] = part.len() as u8;
            version.len += 1;
        }
        Some(version)
    }

    /// The version `major` alone, e.g. a release branch.
    pub fn major_only(major: u32) -> Version {
        Version { parts: [major, 0, 0, 0], widths: [0; 4], len: 1 }
    }

    /// How many numbers it was written with.
    pub fn components(&self) -> usize {
        self.len as usize
    }

    /// The numbers as written.
    pub fn parts(&self) -> &[u32] {
        &self.parts[..self.len as usize]
    }

    pub fn major(&self) -> u32 {
        self.parts[0]
    }

    pub fn minor(&self) -> u32 {
        self.parts[1]
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> std::cmp::Ordering {
        // Unwritten components are 0 in `parts`, so comparing all four compares as written.
        self.parts.cmp(&other.parts)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (part, width)) in self.parts().iter().zip(self.widths).enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part:0width$}", width = width as usize)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(ByteSize::parse("16", "GiB"), Ok(ByteSize::gib(16)));
        assert_eq!(ByteSize::parse_text("1536MiB").map(|s| s.to_string()), Ok("1536MiB".to_string()));
        assert!(ByteSize::parse("16", "GB").unwrap_err().contains("16GiB"));
        assert!(ByteSize::parse("99999999999", "TiB").is_err());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(Version::parse("390.42") > Version::parse("387.26"));
        assert!(Version::parse("9.0") == Version::parse("9"));
        assert!(Version::parse("10.1") > Version::parse("9.2"));
        assert!(Version::parse("1.x").is_none());
        // One to four numbers, written back as given.
        assert!(Version::parse("").is_none() && Version::parse("1..2").is_none());
        assert!(Version::parse("1.2.3.4.5").is_none());
        assert_eq!(Version::parse("550.54.15").map(|v| v.to_string()).as_deref(), Some("550.54.15"));
        // Every digit as written: NVIDIA's file names carry the zero.
        assert_eq!(Version::parse("535.104.05").map(|v| v.to_string()).as_deref(), Some("535.104.05"));
        assert!(Version::parse("535.104.05") == Version::parse("535.104.5"));
        assert!(Version::parse("+1.2").is_none() && Version::parse("1.-2").is_none());
        assert_eq!(Version::parse("7.0.3.1").map(|v| v.components()), Some(4));
    }
}
