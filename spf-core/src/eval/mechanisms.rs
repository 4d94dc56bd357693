//! The mechanisms of RFC 7208 §5 that query DNS (`a`, `mx`, `ptr`,
//! `exists`), and the validated names of `ptr` and `%{p}` (§5.5). `all`,
//! `ip4` and `ip6` are [`static_match`]; `include` is a frame of the
//! evaluation loop (`check_host`).

use std::net::IpAddr;
use std::sync::Arc;

use super::check_host::{Name, Run, TermOutcome, bool_outcome};
use super::target::{in_v4, in_v6, static_match};
use super::{LimitKind, Reason, SpfResult, VoidCounting};
use crate::dns::{Answer, Lookup, LookupError, RecordType, Records};
use crate::input::{is_subdomain, valid_name};
use crate::macros::write_dotted_ip;
use crate::record::{Directive, DomainSpec, DualCidr, Mechanism};

impl<L: Lookup> Run<'_, L> {
    /// Evaluates one mechanism other than `include` (§5); the caller
    /// traces the term.
    pub(super) async fn mechanism(
        &mut self,
        directive: &Directive,
        domain: &Arc<str>,
        depth: u32,
    ) -> TermOutcome {
        let mechanism = &directive.mechanism;
        if mechanism.queries_dns()
            && let Err(reason) = self.charge_term(directive, domain)
        {
            return TermOutcome::Error(SpfResult::PermError, reason);
        }
        match mechanism {
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {
                if let Some(probe) = &mut self.probe {
                    probe.note_mechanism(mechanism);
                }
                bool_outcome(static_match(mechanism, self.request.ip()) == Some(true))
            }
            Mechanism::A { domain: spec, cidr } => {
                match self.target_or_current(spec.as_ref(), domain, depth).await {
                    None => self.void_no_match(directive, domain),
                    Some(target) => {
                        self.address_match(directive, Name::Shared(&target), *cidr, domain, depth, true).await
                    }
                }
            }
            Mechanism::Mx { domain: spec, cidr } => {
                match self.target_or_current(spec.as_ref(), domain, depth).await {
                    None => self.void_no_match(directive, domain),
                    Some(target) => self.mx(directive, &target, *cidr, domain, depth).await,
                }
            }
            Mechanism::Ptr(spec) => {
                // The client's PTR names decide it, not its address range.
                self.depends_on_client();
                match self.target_or_current(spec.as_ref(), domain, depth).await {
                    None => self.void_no_match(directive, domain),
                    Some(target) => self.ptr(directive, &target, domain, depth).await,
                }
            }
            Mechanism::Exists(spec) => match self.target(spec, domain, depth).await {
                None => self.void_no_match(directive, domain),
                // §5.7: the lookup type is A even for an IPv6 client.
                Some(target) => match self.query(Name::Shared(&target), RecordType::A, depth).await {
                    Ok(_) => TermOutcome::Match,
                    Err(LookupError::Temporary(failure)) => self.dns_error(&target, RecordType::A, failure),
                    Err(_) => self.void_no_match(directive, domain),
                },
            },
            Mechanism::Include(_) => TermOutcome::NoMatch,
        }
    }

    pub(super) async fn target_or_current(
        &mut self,
        spec: Option<&DomainSpec>,
        domain: &Arc<str>,
        depth: u32,
    ) -> Option<Arc<str>> {
        match spec {
            Some(spec) => self.target(spec, domain, depth).await,
            None => Some(Arc::clone(domain)),
        }
    }

    /// A term whose query came back empty (or whose name cannot exist).
    pub(super) fn void_no_match(&mut self, term: &Directive, domain: &str) -> TermOutcome {
        match self.charge_void(term, domain) {
            Ok(()) => TermOutcome::NoMatch,
            Err(reason) => TermOutcome::Error(SpfResult::PermError, reason),
        }
    }

    /// `a` (§5.3), and each host of `mx`: do any of the name's addresses
    /// match `<ip>` under the CIDR lengths? `term_query` says whether this
    /// is the term's own query (void per term) or an MX host's.
    pub(super) async fn address_match(
        &mut self,
        term: &Directive,
        name: Name<'_>,
        cidr: DualCidr,
        domain: &str,
        depth: u32,
        term_query: bool,
    ) -> TermOutcome {
        let rtype = match self.request.ip() {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        let answer = self.query(name, rtype, depth).await;
        if let (Some(probe), Ok(Answer { records, .. })) = (&mut self.probe, &answer) {
            probe.note_addresses(records, cidr);
        }
        match answer {
            Ok(Answer { records: Records::A(addrs), .. }) => match self.request.ip() {
                IpAddr::V4(ip) => bool_outcome(addrs.iter().any(|a| in_v4(*a, cidr.v4.unwrap_or(32), ip))),
                IpAddr::V6(_) => TermOutcome::NoMatch,
            },
            Ok(Answer { records: Records::Aaaa(addrs), .. }) => match self.request.ip() {
                IpAddr::V6(ip) => bool_outcome(addrs.iter().any(|a| in_v6(*a, cidr.v6.unwrap_or(128), ip))),
                IpAddr::V4(_) => TermOutcome::NoMatch,
            },
            Ok(_) => TermOutcome::NoMatch,
            Err(LookupError::Temporary(failure)) => self.dns_error(name.as_str(), rtype, failure),
            Err(_) if term_query || self.limits().void_counting == VoidCounting::PerLookup => {
                self.void_no_match(term, domain)
            }
            Err(_) => TermOutcome::NoMatch,
        }
    }

    /// `mx` (§5.4).
    pub(super) async fn mx(
        &mut self,
        term: &Directive,
        target: &Arc<str>,
        cidr: DualCidr,
        domain: &str,
        depth: u32,
    ) -> TermOutcome {
        let names = match self.query(Name::Shared(target), RecordType::Mx, depth).await {
            Ok(Answer { records: Records::Mx(names), .. }) => names,
            Ok(_) => return TermOutcome::NoMatch,
            Err(LookupError::Temporary(failure)) => {
                return self.dns_error(target, RecordType::Mx, failure);
            }
            Err(_) => return self.void_no_match(term, domain),
        };
        // §4.6.4: "the evaluation of each 'MX' record MUST NOT result in
        // querying more than 10 address records ... If this limit is
        // exceeded, the 'mx' mechanism MUST produce a 'permerror' result."
        let max = self.limits().mx_names;
        if names.len() > max as usize {
            let reason = Reason::Limit {
                limit: LimitKind::MxNames,
                max,
                term: term.to_string(),
                domain: domain.to_string(),
            };
            return TermOutcome::Error(SpfResult::PermError, reason);
        }
        for (index, name) in names.iter().enumerate() {
            // A null MX (RFC 7505, exchange ".") names no host.
            if name.is_empty() || !valid_name(name) {
                continue;
            }
            match self.address_match(term, Name::Listed(&names, index), cidr, domain, depth, false).await {
                TermOutcome::NoMatch => {}
                other => return other,
            }
        }
        TermOutcome::NoMatch
    }

    /// The validated names of `<ip>` (§5.5): PTR names (at most the limit)
    /// whose own addresses include `<ip>`. DNS errors drop a name.
    pub(super) async fn validated_names(&mut self, depth: u32) -> Result<Vec<Box<str>>, LookupError> {
        let mut reverse = String::new();
        write_dotted_ip(self.request.ip(), &mut reverse);
        let reverse: String = match self.request.ip() {
            IpAddr::V4(_) => {
                let labels: Vec<&str> = reverse.split('.').rev().collect();
                format!("{}.in-addr.arpa", labels.join("."))
            }
            IpAddr::V6(_) => {
                let labels: Vec<&str> = reverse.split('.').rev().collect();
                format!("{}.ip6.arpa", labels.join("."))
            }
        };
        let names = match self.query(Name::Text(&reverse), RecordType::Ptr, depth).await? {
            Answer { records: Records::Ptr(names), .. } => names,
            _ => return Ok(Vec::new()),
        };
        let rtype = match self.request.ip() {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        let mut validated = Vec::new();
        // §4.6.4: "If this limit is exceeded, all records other than the
        // first 10 MUST be ignored."
        for (index, name) in names.iter().enumerate().take(self.limits().ptr_names as usize) {
            if !valid_name(name) {
                continue;
            }
            let ok = match self.query(Name::Listed(&names, index), rtype, depth).await {
                Ok(Answer { records: Records::A(a), .. }) => {
                    a.iter().any(|a| IpAddr::V4(*a) == self.request.ip())
                }
                Ok(Answer { records: Records::Aaaa(a), .. }) => {
                    a.iter().any(|a| IpAddr::V6(*a) == self.request.ip())
                }
                _ => false,
            };
            if ok {
                validated.push(name.clone());
            }
        }
        Ok(validated)
    }

    /// `ptr` (§5.5).
    pub(super) async fn ptr(
        &mut self,
        term: &Directive,
        target: &str,
        domain: &str,
        depth: u32,
    ) -> TermOutcome {
        match Box::pin(self.validated_names(depth)).await {
            Ok(names) => bool_outcome(names.iter().any(|n| is_subdomain(n, target))),
            // §5.5: "If a DNS error occurs while doing the PTR RR lookup,
            // then this mechanism fails to match."
            Err(LookupError::Temporary(_)) => TermOutcome::NoMatch,
            Err(_) => self.void_no_match(term, domain),
        }
    }

    /// `%{p}` (§7.3): a validated name, preferring `<domain>` itself, then a
    /// subdomain of it; `unknown` when there is none.
    pub(super) async fn compute_validated_name(&mut self, domain: &str, depth: u32) {
        if self.validated_name.is_some() {
            return;
        }
        let names = self.validated_names(depth).await.unwrap_or_default();
        let best = names
            .iter()
            .find(|n| n.as_ref() == domain)
            .or_else(|| names.iter().find(|n| is_subdomain(n, domain)))
            .or_else(|| names.first());
        self.validated_name = Some(best.map_or_else(|| "unknown".to_string(), |n| n.to_string()));
    }
}
