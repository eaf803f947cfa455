//! `servers.conf` of one Bitfusion client: the GPU servers it may use. The format and the
//! place depend on the product: FlexDirect 1.x reads a plain list, vSphere Bitfusion 2.x+
//! reads YAML.

use crate::model::{Model, Pool, PoolId};
use serde::Serialize;

/// The port vSphere Bitfusion servers listen on (ref §8.2: log lines `Query server …:56001`).
const BITFUSION_PORT: u16 = 56001;

/// Where the client reads the file: `/etc/bitfusionio/servers.conf` for FlexDirect 1.x
/// (seed §7.2.10), `/etc/bitfusion/servers.conf` for vSphere Bitfusion 2.x+ (ref §8.2, the
/// vCenter plugin's client files).
pub fn path(model: &Model, pool: PoolId) -> &'static str {
    if pool_of(model, pool).product.value.flexdirect {
        "/etc/bitfusionio/servers.conf"
    } else {
        "/etc/bitfusion/servers.conf"
    }
}

/// The servers.conf of client number `client` of `pool`, listing the addresses of the servers
/// the client names (every server of the pool when it names none, resolved by lowering).
pub fn conf(model: &Model, pool: PoolId, client: usize) -> String {
    let pool = pool_of(model, pool);
    let Some(client) = pool.clients.get(client) else { return String::new() };
    let addresses: Vec<&str> =
        client.servers.iter().filter_map(|&i| pool.servers.get(i)).map(|s| s.address.as_str()).filter(|a| !a.is_empty()).collect();
    if pool.product.value.flexdirect {
        // "one IP address or hostname per line" (seed §7.2.10). Comment syntax is unconfirmed
        // (ref §0 item 6, §8.1), so the file holds addresses only.
        addresses.iter().map(|a| format!("{a}\n")).collect()
    } else {
        // The YAML form, one item per server (ref §8.2, vmware-archive/bitfusion-with-kubernetes-integration).
        let file = ServersFile {
            servers: addresses
                .iter()
                .map(|a| {
                    let endpoint = endpoint(a);
                    ServerEntry { reachable: endpoint.clone(), addresses: vec![endpoint] }
                })
                .collect(),
        };
        // A struct of strings always serializes; serde_yaml fails only on non-string map
        // keys or a Serialize impl that errors, neither of which this type has.
        serde_yaml::to_string(&file).expect("a struct of strings serializes to YAML")
    }
}

fn pool_of(model: &Model, pool: PoolId) -> &Pool {
    &model.pools[pool.index()]
}

/// `address:56001`, with an IPv6 address in brackets (`[fe80::1]:56001`), as in URLs.
fn endpoint(address: &str) -> String {
    if address.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{address}]:{BITFUSION_PORT}")
    } else {
        format!("{address}:{BITFUSION_PORT}")
    }
}

/// The top level of a Bitfusion 2.x+ servers.conf (ref §8.2).
#[derive(Serialize)]
struct ServersFile {
    servers: Vec<ServerEntry>,
}

#[derive(Serialize)]
struct ServerEntry {
    reachable: String,
    addresses: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Two passthrough server VMs and a pool of the given product line (`flexdirect "1.x"`).
    fn build(product: &str) -> crate::Checked {
        let text = format!(
            r#"
host h {{
  address "h.lab"  esxi "7.0 U2"
  gpu g0 {{ model tesla-t4 pci 0000:3b:00.0 use passthrough }}
  gpu g1 {{ model tesla-t4 pci 0000:5e:00.0 use passthrough }}
}}
vm s1 {{ host h memory 16GiB passthrough g0 }}
vm s2 {{ host h memory 16GiB passthrough g1 }}
bitfusion pool {{
  {product}
  server s1 {{ address "10.1.3.11" }}
  server s2 {{ address "fe80::1" }}
  client all {{ address "10.1.4.20" }}
  client one {{ address "10.1.4.21" servers s2 }}
}}
"#
        );
        crate::test_support::checked(&text)
    }

    #[test]
    fn flexdirect_plain_list() {
        let c = build(r#"flexdirect "1.x""#);
        assert_eq!(path(&c.model, PoolId(0)), "/etc/bitfusionio/servers.conf");
        assert_eq!(conf(&c.model, PoolId(0), 0), "10.1.3.11\nfe80::1\n");
        assert_eq!(conf(&c.model, PoolId(0), 1), "fe80::1\n");
    }

    #[test]
    fn bitfusion_yaml() {
        let c = build(r#"bitfusion "2.5""#);
        assert_eq!(path(&c.model, PoolId(0)), "/etc/bitfusion/servers.conf");
        assert_eq!(
            conf(&c.model, PoolId(0), 0),
            "servers:\n\
             - reachable: 10.1.3.11:56001\n  \
               addresses:\n  \
               - 10.1.3.11:56001\n\
             - reachable: '[fe80::1]:56001'\n  \
               addresses:\n  \
               - '[fe80::1]:56001'\n"
        );
    }

    #[test]
    fn unknown_client_is_empty() {
        let c = build(r#"flexdirect "1.x""#);
        assert_eq!(conf(&c.model, PoolId(0), 9), "");
    }
}
