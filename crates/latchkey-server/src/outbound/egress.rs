//! The egress policy (PRODUCT.md F14, SECURITY.md T-16, T-23, T-24, T-28): where Latchkey's
//! outbound requests may go.
//!
//! - Every resolved address is classified and only public unicast addresses are dialled, unless
//!   the operator allows a range explicitly (`LATCHKEY_EGRESS_ALLOW=127.0.0.0/8,10.1.0.0/16`).
//!   IPv4-mapped and -compatible IPv6 addresses are unwrapped first.
//! - The check happens inside the DNS resolver the HTTP client uses, so the connection goes to
//!   exactly the address that was checked (no rebinding window). IP-literal URLs never reach a
//!   resolver, so [`EgressPolicy::check_url`] checks them before sending.
//! - Plain `http` is allowed only to explicitly allowed ranges; everything else must be `https`.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use ipnet::IpNet;

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// The URL is not http(s), or http to a destination that is not explicitly allowed.
    #[error("only https destinations are allowed (plain http only to explicitly allowed ranges)")]
    Scheme,
    /// The address is private, loopback, link-local or otherwise not public.
    #[error("the destination address is not allowed by the egress policy")]
    Forbidden,
    /// The host did not resolve.
    #[error("the destination host could not be resolved")]
    Unresolvable,
}

/// Which destinations outbound requests may reach.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allowed: Arc<Vec<IpNet>>,
    /// Only explicitly allowed ranges (the resolver of the plain-http client).
    explicit_only: bool,
}

impl EgressPolicy {
    /// Parses a comma-separated CIDR list (empty: public destinations only).
    ///
    /// # Errors
    /// The first entry that is not a CIDR or an address.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("egress_allow: {entry} is not a CIDR range or address"))?;
            allowed.push(net);
        }
        Ok(Self {
            allowed: Arc::new(allowed),
            explicit_only: false,
        })
    }

    fn explicitly_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// The same policy restricted to the explicitly allowed ranges: what plain http may reach.
    #[must_use]
    pub fn explicit_only(&self) -> Self {
        Self {
            allowed: self.allowed.clone(),
            explicit_only: true,
        }
    }

    /// Whether a connection to `ip` is allowed.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.explicitly_allowed(ip) || (!self.explicit_only && is_public(canonical(ip)))
    }

    /// Checks a URL before it is requested: scheme, and IP-literal hosts (which no resolver
    /// sees). Host names are checked when they resolve.
    ///
    /// # Errors
    /// [`EgressError`].
    pub fn check_url(&self, url: &url::Url) -> Result<(), EgressError> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(EgressError::Forbidden),
        };
        match url.scheme() {
            "https" => {}
            // Plain http only to allowed ranges; for a name, the plain-http client's resolver
            // (`explicit_only`) keeps only explicitly allowed addresses.
            "http" if literal.is_none_or(|ip| self.explicitly_allowed(ip)) => {}
            _ => return Err(EgressError::Scheme),
        }
        match literal {
            Some(ip) if !self.allows(ip) => Err(EgressError::Forbidden),
            _ => Ok(()),
        }
    }

    /// Resolves `host` and keeps only allowed addresses.
    ///
    /// # Errors
    /// [`EgressError::Unresolvable`] or [`EgressError::Forbidden`] when nothing is left.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, EgressError> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|_| EgressError::Unresolvable)?
            .collect();
        if found.is_empty() {
            return Err(EgressError::Unresolvable);
        }
        let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| self.allows(a.ip())).collect();
        if allowed.is_empty() {
            Err(EgressError::Forbidden)
        } else {
            Ok(allowed)
        }
    }
}

/// The HTTP client's resolver: resolution and the egress check in one step, so the client
/// dials exactly the checked addresses.
impl reqwest::dns::Resolve for EgressPolicy {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.clone();
        Box::pin(async move {
            let addrs = policy
                .resolve(name.as_str())
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6].iter().all(|x| *x == 0) && !v6.is_loopback() && !v6.is_unspecified() {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// Global unicast only (smokescreen's classification).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments 192.0.0/24
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 (and /48)
        || s[0] == 0x2002 // 6to4
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || s[0] == 0x0100) // discard-only 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses_like_smokescreen() {
        let policy = EgressPolicy::default();
        for denied in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            assert!(!policy.allows(ip(denied)), "{denied} must be denied");
        }
        for allowed in [
            "1.1.1.1",
            "140.82.112.3",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(policy.allows(ip(allowed)), "{allowed} must be allowed");
        }
    }

    #[test]
    fn explicit_ranges_open_private_destinations_and_plain_http() {
        let policy = EgressPolicy::parse("127.0.0.0/8, 10.9.0.1").unwrap();
        assert!(policy.allows(ip("127.0.0.1")) && policy.allows(ip("10.9.0.1")));
        assert!(!policy.allows(ip("10.9.0.2")));
        assert!(
            policy.allows(ip("::ffff:127.0.0.1")),
            "mapped addresses are unwrapped"
        );
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(policy.check_url(&url("http://127.0.0.1:8080/x")), Ok(()));
        assert_eq!(
            policy.check_url(&url("http://1.1.1.1/")),
            Err(EgressError::Scheme)
        );
        assert_eq!(policy.check_url(&url("https://1.1.1.1/")), Ok(()));
        assert_eq!(
            policy.check_url(&url("ftp://example.com/")),
            Err(EgressError::Scheme)
        );
        let strict = EgressPolicy::default();
        assert_eq!(
            strict.check_url(&url("https://169.254.169.254/")),
            Err(EgressError::Forbidden)
        );
        assert_eq!(
            strict.check_url(&url("https://[::ffff:10.0.0.1]/")),
            Err(EgressError::Forbidden)
        );
        assert!(EgressPolicy::parse("not-a-range").is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_point_inside() {
        let strict = EgressPolicy::default();
        assert_eq!(
            strict.resolve("localhost").await,
            Err(EgressError::Forbidden)
        );
        let open = EgressPolicy::parse("127.0.0.0/8,::1/128").unwrap();
        assert!(!open.resolve("localhost").await.unwrap().is_empty());
        assert!(
            !open.explicit_only().allows(ip("1.1.1.1")),
            "plain http never reaches public hosts"
        );
        assert!(open.explicit_only().allows(ip("127.0.0.1")));
    }
}
