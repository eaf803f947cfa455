//! Domain literals that are parsed from attribute values: PCI addresses, ESXi versions,
//! network addresses and safe paths. Each parser returns a reason on failure, which the
//! lowering turns into a spanned diagnostic.

use crate::quantity::Version;
use std::fmt;

/// A host PCI address `domain:bus:device.function`, as `lspci` and `esxcli` print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    pub domain: u16,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl PciAddress {
    /// Accepts `0000:09:00.0` and the short `09:00.0` (domain 0). Hex digits, device up to
    /// 0x1f, function up to 7 (PCI specification).
    pub fn parse(text: &str) -> Result<PciAddress, String> {
        let expected = "write domain:bus:device.function in hex, e.g. `0000:3b:00.0`";
        let (head, function) = text.rsplit_once('.').ok_or_else(|| expected.to_string())?;
        let parts: Vec<&str> = head.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [d, b, s] => (*d, *b, *s),
            [b, s] => ("0000", *b, *s),
            _ => return Err(expected.to_string()),
        };
        let field = |s: &str, width: usize, max: u32, what: &str| -> Result<u32, String> {
            if s.is_empty() || s.len() > width {
                return Err(format!("the {what} `{s}` must be 1 to {width} hex digits; {expected}"));
            }
            let v = u32::from_str_radix(s, 16).map_err(|_| format!("the {what} `{s}` is not hex; {expected}"))?;
            if v > max {
                return Err(format!("the {what} `{s}` is above its maximum {max:#x}"));
            }
            Ok(v)
        };
        Ok(PciAddress {
            domain: field(domain, 4, 0xffff, "domain")? as u16,
            bus: field(bus, 2, 0xff, "bus")? as u8,
            device: field(device, 2, 0x1f, "device")? as u8,
            function: field(function, 1, 7, "function")? as u8,
        })
    }

    /// The padded decimal form vSphere writes in `pciPassthruN.id` (ref §1.1):
    /// `0000:1a:00.1` becomes `00000:026:00.1`.
    pub fn vmx_id(self) -> String {
        format!("{:05}:{:03}:{:02}.{}", self.domain, self.bus, self.device, self.function)
    }
}

impl fmt::Display for PciAddress {
    /// The hex form `esxcli` takes: `0000:3b:00.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:02x}:{:02x}.{:x}", self.domain, self.bus, self.device, self.function)
    }
}

/// An ESXi release as (major, minor, update): `6.7.0 U1` is 6.7 U1, `7.0.3` is 7.0 U3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EsxiVersion {
    pub major: u32,
    pub minor: u32,
    pub update: u32,
}

impl EsxiVersion {
    pub const fn new(major: u32, minor: u32, update: u32) -> EsxiVersion {
        EsxiVersion { major, minor, update }
    }

    pub fn parse(text: &str) -> Result<EsxiVersion, String> {
        let expected = "write the ESXi version as `6.7.0 U1`, `7.0 U3` or `8.0.2`";
        let mut words = text.split_whitespace();
        let version = words.next().and_then(Version::parse).ok_or_else(|| expected.to_string())?;
        let update = match words.next() {
            None => None,
            Some(u) => {
                let digits = u.strip_prefix(['U', 'u']).ok_or_else(|| expected.to_string())?;
                // Letters after the number (`U3c`) are patch levels within the update.
                let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
                Some(digits.parse::<u32>().map_err(|_| expected.to_string())?)
            }
        };
        if words.next().is_some() || version.components() > 3 {
            return Err(expected.to_string());
        }
        let patch = version.parts().get(2).copied().unwrap_or(0);
        if version.major() < 4 || version.major() > 9 {
            return Err(format!("ESXi {version} does not exist; {expected}"));
        }
        Ok(EsxiVersion { major: version.major(), minor: version.minor(), update: update.unwrap_or(patch) })
    }
}

impl fmt::Display for EsxiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.update == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{} U{}", self.major, self.minor, self.update)
        }
    }
}

/// An IPv4 or IPv6 address or a DNS host name (RFC 1123 labels). Addresses reach generated
/// files, so nothing else is accepted.
pub fn check_address(text: &str) -> Result<(), String> {
    // `{name}` (a host range's own name) is checked as the letters it stands for.
    let text = &text.replace("{name}", "name");
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let looks_numeric = text.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()));
    if looks_numeric {
        return Err(format!("`{text}` is not a valid IPv4 address"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if text.len() <= 253 && text.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("`{text}` is not an IP address or a host name (letters, digits, `-` and `.`)"))
    }
}

/// An absolute path on the ESXi host (the VIB). It is quoted when emitted, but control
/// characters and quotes have no business in a datastore path, so they are refused.
pub fn check_host_path(text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| c.is_control() || *c == '\'' || *c == '"' || *c == '\\' || *c == '`' || *c == '$') {
        return Err(format!("the path contains {c:?}, which a datastore path cannot hold"));
    }
    if text.split('/').any(|part| part == "..") {
        return Err("the path contains `..`; write the absolute datastore path".to_string());
    }
    Ok(())
}

/// A host UUID as `esxcli system uuid get` prints it (hex groups joined by `-`).
pub fn check_system_id(text: &str) -> Result<(), String> {
    let groups: Vec<&str> = text.split('-').collect();
    let ok = groups.len() >= 2 && groups.iter().all(|g| !g.is_empty() && g.len() <= 16 && g.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!("`{text}` is not a host UUID (hex groups joined by `-`, e.g. \"5b3f1e2a-6c4d-11e8-8000-0cc47a8a1234\")"))
    }
}

/// A vCenter cluster name. vCenter takes almost any text; control characters would break the
/// inventory line and `{`/`}` would be read by Ansible as a template, so those are refused.
pub fn check_cluster_name(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("a cluster name cannot be empty".to_string())
    } else if let Some(c) = text.chars().find(|&c| c.is_control() || c == '{' || c == '}') {
        Err(format!("a cluster name cannot contain {c:?}: the Ansible inventory would break or template it"))
    } else {
        Ok(())
    }
}

/// A plain file name (an NLS client configuration token): no directories, no quoting needed.
pub fn check_file_name(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text.len() <= 255
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !text.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!("`{text}` is not a plain file name (letters, digits, `.`, `_`, `-`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_forms() {
        let a = PciAddress::parse("0000:1a:00.1").unwrap();
        assert_eq!(a.vmx_id(), "00000:026:00.1");
        assert_eq!(a.to_string(), "0000:1a:00.1");
        assert_eq!(PciAddress::parse("0b:00.0").unwrap().vmx_id(), "00000:011:00.0");
        assert!(PciAddress::parse("0000:09:20.0").is_err());
        assert!(PciAddress::parse("0000:09:00.8").is_err());
        assert!(PciAddress::parse("0000:109:00.0").is_err());
    }

    #[test]
    fn esxi_versions() {
        assert_eq!(EsxiVersion::parse("6.7.0 U1"), Ok(EsxiVersion::new(6, 7, 1)));
        assert_eq!(EsxiVersion::parse("7.0.3"), Ok(EsxiVersion::new(7, 0, 3)));
        assert_eq!(EsxiVersion::parse("8.0 U3c"), Ok(EsxiVersion::new(8, 0, 3)));
        assert!(EsxiVersion::parse("six").is_err());
        assert!(EsxiVersion::new(6, 7, 3) > EsxiVersion::new(6, 7, 1));
    }

    #[test]
    fn addresses() {
        assert!(check_address("10.1.2.3").is_ok());
        assert!(check_address("esx14.lab.local").is_ok());
        assert!(check_address("fe80::1").is_ok());
        assert!(check_address("10.1.2.300").is_err());
        assert!(check_address("a b").is_err());
        assert!(check_address("$(reboot)").is_err());
    }

    #[test]
    fn cluster_names() {
        assert!(check_cluster_name("GPU cluster 01").is_ok());
        assert!(check_cluster_name(" ").is_err());
        assert!(check_cluster_name("a\nb").is_err());
        assert!(check_cluster_name("{{ lookup('pipe', 'id') }}").is_err());
    }
}
