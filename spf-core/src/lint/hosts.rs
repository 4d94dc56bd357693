//! The third pass: addresses checked one by one with the evaluator itself
//! (exact, client-dependent terms included): requested addresses, the
//! self-test, and the domain's own mail hosts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::{Answer, Lookup, RecordType, Records};
use crate::eval::{CheckOptions, Evaluation, Evaluator, Identity, SpfResult};
use crate::record::{Mechanism, Qualifier, Record, Term};

use super::gather::Memo;
use super::terms::valid_name;
use super::{Authorized, CheckRole, Diags, IpCheck, IpSet, LintOptions, LintRequest, code};

/// Reserved addresses no mail server has: 240.0.0.0/4 ("reserved for future
/// use", RFC 1112) and the IPv6 discard prefix 100::/64 (RFC 6666). A record
/// that passes them passes anyone.
pub(crate) const CANARIES: [IpAddr; 2] =
    [IpAddr::V4(Ipv4Addr::new(240, 0, 0, 1)), IpAddr::V6(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 1))];

/// Most mail-host addresses evaluated.
const MAX_HOST_ADDRESSES: usize = 16;

/// What the host checks need from the analysis.
pub(crate) struct Known<'a> {
    pub(crate) domain: Option<&'a str>,
    pub(crate) authorized: &'a IpSet,
    pub(crate) possibly: &'a IpSet,
    /// The root's SPF record, when it has one.
    pub(crate) record: Option<&'a str>,
}

impl Known<'_> {
    fn authorized(&self, ip: IpAddr) -> Authorized {
        if self.authorized.contains(ip) {
            Authorized::Yes
        } else if self.possibly.contains(ip) {
            Authorized::Depends
        } else {
            Authorized::No
        }
    }
}

pub(crate) async fn check<L: Lookup>(
    dns: &Memo<'_, L>,
    request: &LintRequest,
    options: &LintOptions,
    known: &Known<'_>,
    diags: &mut Diags,
) -> Vec<IpCheck> {
    let check_options =
        CheckOptions { limits: options.limits, trace: false, timestamp: Some(0), ..CheckOptions::default() };
    let evaluator = Evaluator::new(dns, check_options);
    let mut checks = Vec::new();
    let label = known.domain.unwrap_or_default();

    let wanted = request
        .ips
        .iter()
        .map(|&ip| (ip, CheckRole::Requested))
        .chain(request.self_test.iter().map(|&ip| (ip, CheckRole::SelfTest)))
        .chain(CANARIES.iter().map(|&ip| (ip, CheckRole::Canary)));
    for (ip, role) in wanted {
        let check = one(&evaluator, known, ip, role, None).await;
        let passes = match check.result {
            Some(result) => result == SpfResult::Pass,
            None => check.authorized == Authorized::Yes,
        };
        let by =
            check.matched.as_ref().map(|m| format!(" (by \"{}\" in the record of {})", m.term, m.domain));
        let by = by.unwrap_or_default();
        match role {
            CheckRole::SelfTest if passes => diags.push(
                code::SELF_TEST_PASS,
                label,
                None,
                format!(
                    "{ip}, given as an address that must not pass (such as this receiver's own), passes{by}: \
                     the record is wide open"
                ),
            ),
            // A canary restates `wide-open` unless the opening is
            // something the address arithmetic cannot see (a wildcard
            // behind exists:%{i}..., a ptr everyone matches).
            CheckRole::Canary if passes && !diags.has_code(code::WIDE_OPEN) => diags.push(
                code::SELF_TEST_PASS,
                label,
                None,
                format!(
                    "self-test: {ip}, a reserved address no mail server has, passes{by}: the record lets \
                     anyone send as {}",
                    if label.is_empty() { "the domain" } else { label }
                ),
            ),
            _ => {}
        }
        checks.push(check);
    }

    if let Some(domain) = known.domain
        && options.check_mail_hosts
        && known.record.is_some()
    {
        mail_hosts(dns, &evaluator, known, domain, diags, &mut checks).await;
    }
    checks
}

/// Evaluates one address.
async fn one<L: Lookup>(
    evaluator: &Evaluator<&Memo<'_, L>>,
    known: &Known<'_>,
    ip: IpAddr,
    role: CheckRole,
    host: Option<&str>,
) -> IpCheck {
    let eval: Option<Evaluation> = match known.domain {
        Some(domain) => Some(
            evaluator
                .check_host(ip, domain, &format!("postmaster@{domain}"), domain, Identity::MailFrom)
                .await,
        ),
        None => None,
    };
    IpCheck {
        ip: crate::normalize_ip(ip),
        role,
        host: host.map(str::to_string),
        authorized: known.authorized(ip),
        result: eval.as_ref().map(|e| e.result),
        matched: eval.as_ref().and_then(|e| e.matched.clone()),
        reason: eval.as_ref().and_then(|e| e.reason.as_ref().map(ToString::to_string)),
    }
}

/// `mx-not-authorized` and `a-not-authorized`: the domain's own MX hosts
/// (those inside the domain: a provider's inbound servers need not send)
/// and its address, evaluated against its record.
async fn mail_hosts<L: Lookup>(
    dns: &Memo<'_, L>,
    evaluator: &Evaluator<&Memo<'_, L>>,
    known: &Known<'_>,
    domain: &str,
    diags: &mut Diags,
    checks: &mut Vec<IpCheck>,
) {
    let mut hosts: Vec<(String, IpAddr, CheckRole)> = Vec::new();
    if let Ok(Answer { records: Records::Mx(names), .. }) = dns.lookup(domain, RecordType::Mx).await {
        for name in names.iter().filter(|n| valid_name(n)).take(10) {
            for address in addresses(dns, name).await {
                hosts.push((name.to_string(), address, CheckRole::MxHost));
            }
        }
    }
    for address in addresses(dns, domain).await {
        if !hosts.iter().any(|(_, a, _)| *a == address) {
            hosts.push((domain.to_string(), address, CheckRole::DomainAddress));
        }
    }
    hosts.truncate(MAX_HOST_ADDRESSES);
    let stale = stale_hosts(known.record, &hosts);
    for (host, ip, role) in &hosts {
        let check = one(evaluator, known, *ip, *role, Some(host)).await;
        let result = check.result.unwrap_or(SpfResult::None);
        if result != SpfResult::Pass {
            let by = check.matched.as_ref().map(|m| format!(" (by \"{}\")", m.term)).unwrap_or_default();
            let in_domain = host == domain || host.ends_with(&format!(".{domain}"));
            if *role == CheckRole::MxHost && in_domain {
                let hint = if stale.is_empty() {
                    String::new()
                } else {
                    format!(
                        ". The record lists {}, which no MX or A record of {domain} points to: a server that \
                         has moved?",
                        stale.join(", ")
                    )
                };
                diags.push(
                    code::MX_NOT_AUTHORIZED,
                    domain,
                    None,
                    format!(
                        "{host} ({ip}), a mail exchanger of {domain}, gets {result}{by} from the record: if it \
                         also sends the domain's mail, receivers reject or flag that mail{hint}"
                    ),
                );
            } else if *role == CheckRole::DomainAddress {
                diags.push(
                    code::A_NOT_AUTHORIZED,
                    domain,
                    None,
                    format!(
                        "{domain}'s own address {ip} gets {result}{by}: fine if that host sends no mail; add \"a\" \
                         to the record if it does"
                    ),
                );
            }
        }
        checks.push(check);
    }
}

async fn addresses<L: Lookup>(dns: &Memo<'_, L>, name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(Answer { records: Records::A(a), .. }) = dns.lookup(name, RecordType::A).await {
        out.extend(a.iter().map(|a| IpAddr::V4(*a)));
    }
    if let Ok(Answer { records: Records::Aaaa(a), .. }) = dns.lookup(name, RecordType::Aaaa).await {
        out.extend(a.iter().map(|a| IpAddr::V6(*a)));
    }
    out
}

/// Single hosts the record passes (`ip4:` without a prefix, or /32, /128)
/// that none of the domain's MX or A records point to.
fn stale_hosts(record: Option<&str>, hosts: &[(String, IpAddr, CheckRole)]) -> Vec<String> {
    let Some(record) = record.and_then(|r| Record::parse(r).ok()) else { return Vec::new() };
    let mut stale = Vec::new();
    for term in record.terms() {
        let Term::Directive(d) = term else { continue };
        if d.qualifier != Qualifier::Pass {
            continue;
        }
        let single = match &d.mechanism {
            Mechanism::Ip4 { addr, prefix: None | Some(32) } => IpAddr::V4(*addr),
            Mechanism::Ip6 { addr, prefix: None | Some(128) } => IpAddr::V6(*addr),
            _ => continue,
        };
        if !hosts.iter().any(|(_, a, _)| *a == single) {
            stale.push(single.to_string());
        }
    }
    stale
}
