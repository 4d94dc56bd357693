//! What a check is asked about, read once: the client IP, the domains and
//! names, the sender. The rules here are used by every other module and use
//! none of them: domain-name validity, domain normalization, subdomains,
//! CIDR blocks, and the MAIL FROM and HELO identities of RFC 7208 §2.

use std::net::IpAddr;
use std::sync::Arc;

use crate::Error;

/// Longest domain name in text form, without the trailing dot (RFC 1035
/// §2.3.4: 255 octets on the wire).
pub(crate) const MAX_NAME: usize = 253;

/// Longest label (RFC 1035 §2.3.4).
pub(crate) const MAX_LABEL: usize = 63;

/// Parses a client IP address as given by a caller. IPv4-mapped IPv6
/// addresses are returned as IPv4 (RFC 7208 §5: they "MUST be treated as IPv4").
pub fn parse_ip(text: &str) -> Result<IpAddr, Error> {
    let ip: IpAddr = text.trim().parse().map_err(|_| Error::InvalidIp(text.to_string()))?;
    Ok(normalize_ip(ip))
}

/// Returns IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as IPv4.
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Whether labels of these lengths make a name that can be queried: 1 to 63
/// octets each, at most 253 octets with the dots between them. DNS labels
/// may hold any octet, so a macro expansion with spaces or `%` is a name.
pub(crate) fn valid_label_lengths(labels: impl Iterator<Item = usize>) -> bool {
    let mut total = 0usize;
    let mut count = 0usize;
    for len in labels {
        if len == 0 || len > MAX_LABEL {
            return false;
        }
        total += len;
        count += 1;
    }
    count > 0 && total + count - 1 <= MAX_NAME
}

/// Whether `name` (no trailing dot) can be queried at all
/// ([`valid_label_lengths`] of its labels).
pub(crate) fn valid_name(name: &str) -> bool {
    valid_label_lengths(name.split('.').map(str::len))
}

/// RFC 7208 §4.3: `<domain>` must be a well-formed multi-label domain name:
/// a queryable name of visible ASCII characters, not a domain literal.
pub(crate) fn valid_domain(name: &str) -> bool {
    valid_name(name)
        && name.contains('.')
        && name.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && !name.starts_with('[')
}

/// A domain as checks compare it: lower case (ASCII), one trailing dot
/// dropped.
pub(crate) fn normalize_domain(domain: &str) -> Arc<str> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.bytes().any(|b| b.is_ascii_uppercase()) { d.to_ascii_lowercase().into() } else { d.into() }
}

/// Whether `name` is `target` or ends with `.target` (ASCII
/// case-insensitively; a trailing dot of `name` ignored).
pub(crate) fn is_subdomain(name: &str, target: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case(target)
        || (name.len() > target.len()
            && name.as_bytes()[name.len() - target.len() - 1] == b'.'
            && name[name.len() - target.len()..].eq_ignore_ascii_case(target))
}

/// First and last address of the block `addr/prefix` in an address space
/// of `bits` bits (32 or 128): host bits ignored, a prefix beyond the width
/// taken as the width (RFC 7208 §5.6).
pub(crate) fn cidr_block(bits: u32, addr: u128, prefix: u8) -> (u128, u128) {
    let host_bits = bits - u32::from(prefix).min(bits);
    let host_mask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    let width_mask = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    let lo = addr & !host_mask & width_mask;
    (lo, lo | host_mask)
}

/// The identity a check is about (RFC 7208 §2.3, §2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    /// The MAIL FROM identity (`smtp.mailfrom`).
    MailFrom,
    /// The HELO identity (`smtp.helo`).
    Helo,
}

impl Identity {
    /// `mailfrom` or `helo`, as Received-SPF's `identity=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }
}

/// One check's question, read once: check_host()'s `<ip>`, `<domain>` and
/// `<sender>` (RFC 7208 §4.1), the HELO name for `%{h}`, and which identity
/// it is. Evaluation, speculation, macros, timeout results and headers all
/// read it from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRequest {
    pub(crate) identity: Identity,
    pub(crate) ip: IpAddr,
    pub(crate) sender: Box<str>,
    /// Where `<sender>`'s local part ends (its `@`).
    pub(crate) at: usize,
    pub(crate) domain: Arc<str>,
    pub(crate) helo: Box<str>,
}

impl CheckRequest {
    /// The MAIL FROM identity (§2.4). An empty `mail_from` (or `<>`) is the
    /// null reverse-path: then `postmaster@<helo>` is checked. An address
    /// without a local part (`@example.com`) gets `postmaster` (§4.3); so
    /// does a bare domain without `@`.
    pub fn mail_from(ip: IpAddr, mail_from: &str, helo: &str) -> CheckRequest {
        let mail_from = mail_from.trim();
        let mail_from = mail_from.strip_prefix('<').and_then(|m| m.strip_suffix('>')).unwrap_or(mail_from);
        let (local, domain) = match mail_from.rsplit_once('@') {
            _ if mail_from.is_empty() => ("postmaster", helo),
            Some((local, domain)) if !local.is_empty() => (local, domain),
            Some((_, domain)) => ("postmaster", domain),
            None => ("postmaster", mail_from),
        };
        CheckRequest::new(Identity::MailFrom, ip, local, domain, helo)
    }

    /// The HELO identity (§2.3): `<sender>` is `postmaster@<helo>`.
    pub fn helo(ip: IpAddr, helo: &str) -> CheckRequest {
        CheckRequest::new(Identity::Helo, ip, "postmaster", helo, helo)
    }

    /// check_host() with `<domain>` and `<sender>` given directly (the
    /// sender's domain need not be `domain`).
    pub fn check_host(
        identity: Identity,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
    ) -> CheckRequest {
        let (local, sender_domain) = match sender.rsplit_once('@') {
            Some(("", d)) => ("postmaster", d),
            Some((l, d)) => (l, d),
            None => ("postmaster", sender),
        };
        let mut request = CheckRequest::new(identity, ip, local, sender_domain, helo);
        request.domain = normalize_domain(domain);
        request
    }

    fn new(identity: Identity, ip: IpAddr, local: &str, domain: &str, helo: &str) -> CheckRequest {
        let mut sender = String::with_capacity(local.len() + 1 + domain.len());
        sender.push_str(local);
        sender.push('@');
        sender.push_str(domain);
        CheckRequest {
            identity,
            ip: normalize_ip(ip),
            at: local.len(),
            sender: sender.into_boxed_str(),
            domain: normalize_domain(domain),
            helo: helo.into(),
        }
    }

    /// Which identity is checked.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// `<ip>` (IPv4-mapped IPv6 addresses as IPv4).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// `<sender>` as checked.
    pub fn sender(&self) -> &str {
        &self.sender
    }

    /// `<sender>`'s local part (`%{l}`).
    pub fn local_part(&self) -> &str {
        &self.sender[..self.at]
    }

    /// `<sender>`'s domain (`%{o}`).
    pub fn sender_domain(&self) -> &str {
        &self.sender[self.at + 1..]
    }

    /// `<domain>`: the domain checked (lower case, no trailing dot).
    pub fn domain(&self) -> &Arc<str> {
        &self.domain
    }

    /// The HELO/EHLO name (empty when unknown).
    pub fn helo_name(&self) -> &str {
        &self.helo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.1".parse().expect("ip")
    }

    #[test]
    fn mail_from_identities() {
        let r = CheckRequest::mail_from(ip(), "Alice@Example.COM.", "h.example");
        assert_eq!(
            (r.sender(), r.local_part(), r.sender_domain()),
            ("Alice@Example.COM.", "Alice", "Example.COM.")
        );
        assert_eq!(&**r.domain(), "example.com");
        let null = CheckRequest::mail_from(ip(), "<>", "mail.example");
        assert_eq!((null.sender(), &**null.domain()), ("postmaster@mail.example", "mail.example"));
        assert_eq!(CheckRequest::mail_from(ip(), "@example.com", "h").sender(), "postmaster@example.com");
        assert_eq!(CheckRequest::mail_from(ip(), "example.com", "h").sender(), "postmaster@example.com");
        let helo = CheckRequest::helo("::ffff:192.0.2.1".parse().expect("ip"), "Mail.Example");
        assert_eq!(
            (helo.sender(), helo.ip(), helo.helo_name()),
            ("postmaster@Mail.Example", ip(), "Mail.Example")
        );
        assert_eq!(&**helo.domain(), "mail.example");
    }

    #[test]
    fn names() {
        assert!(valid_name("a.b"));
        assert!(valid_name(&"a".repeat(63)));
        assert!(!valid_name(&"a".repeat(64)));
        assert!(!valid_name("a..b") && !valid_name(""));
        let long = format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61));
        assert_eq!(long.len(), 253);
        assert!(valid_name(&long));
        assert!(!valid_name(&format!("{long}e")));
        assert!(
            is_subdomain("Mail.Example.com.", "example.com")
                && !is_subdomain("badexample.com", "example.com")
        );
    }

    #[test]
    fn cidr() {
        assert_eq!(cidr_block(32, 0xc000_0207, 24), (0xc000_0200, 0xc000_02ff));
        assert_eq!(cidr_block(32, 0xc000_0207, 0), (0, 0xffff_ffff));
        assert_eq!(cidr_block(32, 0x0a00_0001, 40), (0x0a00_0001, 0x0a00_0001));
        assert_eq!(cidr_block(128, 7, 0), (0, u128::MAX));
    }
}
