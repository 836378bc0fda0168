//! Client addresses for rate limits: which reverse proxies to believe, the client
//! behind them, and the key a limit counts under (IPv6 grouped by /64, since one
//! household or server gets a whole /64 and can pick any address in it).

use std::net::IpAddr;

/// An address block (`10.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| format!("{s:?}: the prefix length is not a number"))?)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(format!("{s:?}: the prefix length is over {max}"));
        }
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a.get(..full) != b.get(..full) || a.get(..full).is_none() {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        match (a.get(full), b.get(full)) {
            (Some(x), Some(y)) => x & mask == y & mask,
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, what a dual-stack socket reports)
/// as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The reverse proxies whose `X-Forwarded-For` header is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Comma-separated addresses or CIDR blocks; empty trusts no one.
    pub fn parse(s: &str) -> Result<TrustedProxies, String> {
        s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Cidr::parse).collect::<Result<_, _>>().map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client: the TCP peer, unless it is a trusted proxy, in which case the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy
    /// (what a client writes further left can be forged; what our proxies append
    /// cannot). A header that does not parse leaves the proxy as the client.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for.iter().rev().flat_map(|h| h.rsplit(',')) {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { return client };
            client = canonical(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// The key rate limits count a client under: the IPv4 address, or the IPv6 /64.
pub fn limit_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn cidr_blocks() {
        let c = Cidr::parse("10.1.0.0/16").expect("cidr");
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped addresses count as IPv4");
        assert!(Cidr::parse("fd00::/8").expect("v6").contains(ip("fdab::1")));
        assert!(Cidr::parse("127.0.0.1").expect("bare").contains(ip("127.0.0.1")));
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert!(Cidr::parse("nginx").is_err());
        assert!(Cidr::parse("10.0.0.0/12").expect("odd").contains(ip("10.15.255.255")));
        assert!(!Cidr::parse("10.0.0.0/12").expect("odd").contains(ip("10.16.0.0")));
    }

    #[test]
    fn regression_limits_key_on_the_client_behind_a_trusted_proxy() {
        let none = TrustedProxies::default();
        // Untrusted peers cannot pick their key with a header.
        assert_eq!(none.client(ip("203.0.113.9"), &["1.1.1.1"]), ip("203.0.113.9"));
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("parse");
        assert_eq!(t.client(ip("127.0.0.1"), &["198.51.100.7"]), ip("198.51.100.7"));
        // A forged left-most entry is ignored: the right-most untrusted hop wins.
        assert_eq!(t.client(ip("127.0.0.1"), &["6.6.6.6, 198.51.100.7, 10.0.0.2"]), ip("198.51.100.7"));
        // Several headers are one list.
        assert_eq!(t.client(ip("127.0.0.1"), &["6.6.6.6", "198.51.100.8"]), ip("198.51.100.8"));
        // Garbage: stop at the last good hop.
        assert_eq!(t.client(ip("127.0.0.1"), &["not-an-ip"]), ip("127.0.0.1"));
        assert_eq!(t.client(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
    }

    #[test]
    fn regression_ipv6_limits_group_by_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:ffff:1:2:3")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_eq!(limit_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
