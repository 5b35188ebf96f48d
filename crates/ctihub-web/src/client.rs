//! Who is on the other end of a request: the client's address and whether it reached us over
//! TLS.
//!
//! The address is the TCP peer. Behind a reverse proxy every peer is the proxy, so when the peer
//! is one of the configured `trusted_proxies`, `X-Forwarded-For` is read from the right: the
//! first address that is not itself a trusted proxy is the client. A client cannot spoof its
//! address by sending the header itself, because the header is only believed from a trusted
//! peer, and a trusted proxy appends the address it saw.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("{text:?} is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{text:?}: bad prefix length"))?
            }
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:1.2.3.4` (a dual-stack socket's view of an IPv4 peer) is `1.2.3.4`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// How the server sits in the network: set once at start-up from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The configured public URL is https: cookies are always `Secure`.
    pub public_https: bool,
}

impl Network {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(ip))
    }

    /// The client's address for a request from `peer` carrying `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return peer;
        }
        // Every hop appends; read from the nearest hop outwards and stop at the first address
        // no trusted proxy vouches for. Garbage in the chain ends the walk at the last good hop.
        let mut client = peer;
        let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
        for hop in hops.iter().flat_map(|v| v.split(',')).rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusted(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }

    /// Whether cookies get `Secure`: the public URL is https, or the request says it came over
    /// TLS (`X-Forwarded-Proto: https`). The header is believed from anyone here, unlike
    /// `X-Forwarded-For`: it can only add the flag, and a client that lies gets a cookie its own
    /// browser will not send back over plain HTTP. Nothing is weakened by believing it.
    pub fn secure_cookies(&self, headers: &HeaderMap) -> bool {
        let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
        self.public_https
            || proto.is_some_and(|p| p.split(',').next().unwrap_or("").trim().eq_ignore_ascii_case("https"))
    }
}

/// The client of this request, as resolved by [`resolve`]. Falls back to `0.0.0.0` for a
/// request served without a socket (a router called directly in a test or example).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientAddr>().copied().unwrap_or(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// Middleware: work out the client's address once, for the rate limiter, the audit log and logs.
pub(crate) async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let client = match peer {
        Some(peer) => state.network.client_address(peer, request.headers()),
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_match_by_prefix() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(IpNet::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
        assert!(IpNet::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("proxy.local").is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.0.0.2"));
        let untrusting = Network::default();
        assert_eq!(untrusting.client_address(ip("198.51.100.1"), &headers), ip("198.51.100.1"));

        let network = Network { trusted_proxies: vec![IpNet::parse("10.0.0.0/8").unwrap()], public_https: false };
        // The spoofed first entry is ignored: the rightmost untrusted hop is the client.
        assert_eq!(network.client_address(ip("10.0.0.1"), &headers), ip("203.0.113.9"));
        // A peer that is not a proxy is the client, whatever it claims.
        assert_eq!(network.client_address(ip("198.51.100.1"), &headers), ip("198.51.100.1"));
        // No header: the proxy itself.
        assert_eq!(network.client_address(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn cookies_are_secure_behind_tls_or_with_an_https_public_url() {
        let mut headers = HeaderMap::new();
        assert!(!Network::default().secure_cookies(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(Network::default().secure_cookies(&headers));
        let public = Network { public_https: true, ..Default::default() };
        assert!(public.secure_cookies(&HeaderMap::new()));
    }
}
