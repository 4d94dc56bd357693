//! Local policy: what a receiver decides around an SPF check.
//!
//! SPF answers one question (does `<domain>` authorize this client?); a
//! receiver also knows things SPF cannot: its own networks, relays it
//! trusts, forwarders whose mail breaks SPF, domains without a record.
//! [`LocalPolicy`] holds that knowledge and applies it around a check:
//!
//! * before it ([`LocalPolicy::before_check`], pure, and
//!   [`LocalPolicy::exempt`], with lookups): clients that are never checked
//!   (`skip_networks`: local submission) and clients treated as authorized
//!   (`allow_networks`; a HELO name on `allow_helo` whose A/AAAA records
//!   hold the client; a client that passes the SPF policy of a domain on
//!   `allow_spf_domains`; a client whose validated PTR name lies in a domain
//!   on `allow_ptr_domains`);
//! * after it ([`LocalPolicy::after_check`]): a `fail` from a client that
//!   one of the `trusted_forwarders` authorizes is reported as forwarded,
//!   naming the forwarder; a domain without SPF gets a best guess (off by
//!   default), reported as a guess; a `pass` from a wide-open policy is
//!   treated as `neutral` when [`WideOpenPass::Neutral`] is chosen.
//!
//! A [`Checker`](crate::Checker) built with
//! [`CheckerConfig::with_local_policy`](crate::CheckerConfig::with_local_policy)
//! applies all of it around every check, within the check's deadline, and
//! returns what it did as [`Evaluation::policy_note`]; the header fields
//! name it. The methods below are for callers that drive the steps
//! themselves (such as `fastspf-policyd`, which answers an exempt client
//! with policyd-spf's `X-Comment`).
//!
//! Every extra lookup is an SPF evaluation through the same [`Lookup`] (for
//! a [`Checker`](crate::Checker): its shared cache), so the rules are the
//! core's own: the HELO check is the `a` mechanism, the PTR check the `ptr`
//! mechanism (RFC 7208 §5.5, validated names), the forwarder and
//! allow-domain checks are `check_host()` of those domains, the best guess
//! is a record evaluated as if the sender's domain published it.
//!
//! Extra query cost per message (cold cache; a warm cache answers all of
//! it): `allow_helo` one A or AAAA query when the HELO name is listed;
//! `allow_spf_domains` and `trusted_forwarders` one SPF check per listed
//! domain until one passes (each up to the RFC's 10 DNS-querying terms);
//! `allow_ptr_domains` one PTR query and up to 10 A/AAAA queries for its
//! names; the best guess one A/AAAA, one MX and its hosts' addresses and a
//! PTR query; the wide-open judgement one lint of the passing domain (up to
//! [`WIDE_OPEN_LINT_QUERIES`] queries), remembered per domain.
//!
//! ```
//! use std::sync::Arc;
//! use spf_core::dns::Zone;
//! use spf_core::policy::{Exemption, LocalPolicy};
//!
//! let mut policy = LocalPolicy::default();
//! policy.add_skip_networks("127.0.0.0/8,::ffff:127.0.0.0/104,::1")?;
//! policy.add_allow_networks("192.0.2.0/24")?;
//! assert_eq!(policy.before_check("127.0.0.1".parse()?), Some(Exemption::Skipped));
//! assert_eq!(policy.before_check("192.0.2.9".parse()?), Some(Exemption::AllowedNetwork));
//! assert_eq!(policy.before_check("198.51.100.1".parse()?), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dns::Lookup;
use crate::dns::Overlay;
use crate::eval::{CheckOptions, Deadline, Evaluation, Evaluator, Identity, Reason, SpfResult};
pub use crate::eval::{Exemption, PolicyNote, WideOpen};
use crate::input::CheckRequest;
use crate::lint::{Family, IpSet, LintOptions, LintRequest, Linter};

/// Most domains in each of the lists checked by lookups (`allow_spf_domains`,
/// `allow_ptr_domains`, `allow_helo`, `trusted_forwarders`): every listed
/// domain may cost a full SPF check per message, so the per-message cost
/// stays bounded (32 checks of at most 10 DNS-querying terms each).
pub const MAX_LISTED_DOMAINS: usize = 32;

/// Most networks in `skip_networks` plus `allow_networks`. They are matched
/// in memory (a binary search), so the bound only keeps a mistaken file from
/// eating memory.
pub const MAX_NETWORKS: usize = 100_000;

/// pyspf's best guess for domains without SPF (`spf.DEFAULT_SPF`, the
/// de-facto standard): the domain's own addresses and mail exchangers,
/// with their /24 neighbours, and hosts whose validated PTR name is in
/// the domain. No `all`: anything else is `neutral` (RFC 7208 §4.7).
pub const BEST_GUESS_RECORD: &str = "v=spf1 a/24 mx/24 ptr";

/// The name local checks publish their synthetic records at (the reserved
/// `.invalid` TLD, RFC 2606: it never reaches DNS, the [`Overlay`] answers).
pub const LOCAL_POLICY_DOMAIN: &str = "local-policy.fastspf.invalid";

/// `ptr:` terms per synthetic record: RFC 7208 §4.6.4 counts each as a
/// DNS-querying term and allows 10 per evaluation.
const PTR_TERMS_PER_RECORD: usize = 10;

/// Domains whose wide-open judgement is remembered. Past it, the least
/// recently used is forgotten (and judged again when it passes again).
pub const WIDE_OPEN_CACHE_ENTRIES: usize = 10_000;

/// How long a wide-open judgement is remembered: records change, and the
/// lint that judges does not see TTLs. One hour, like the cache's negative
/// ceiling.
pub const WIDE_OPEN_CACHE_TTL: Duration = Duration::from_secs(3_600);

/// Most DNS queries one wide-open judgement (a lint of the passing domain)
/// sends; past it the judgement is "not known to be wide open".
pub const WIDE_OPEN_LINT_QUERIES: u32 = 100;

/// A policy that passes at least this many IPv4 addresses is wide open
/// (2^24, a /8: the lint's `wide-open` threshold).
pub const WIDE_OPEN_IPV4: u128 = 1 << 24;

/// A policy that passes at least this share of IPv6 is wide open (1/65536,
/// a /16: the lint's `wide-open` threshold).
pub const WIDE_OPEN_IPV6_FRACTION: f64 = 1.0 / 65_536.0;

/// A mistake in a local policy setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not `address` or `address/prefix`, or the prefix is too long.
    #[error("{0:?} is not an IP network (address or address/prefix)")]
    Network(String),
    /// Not a domain name.
    #[error("{0:?} is not a domain name")]
    Domain(String),
    /// A list is longer than its bound.
    #[error("{list} holds more than {max} entries")]
    TooMany {
        /// Which list.
        list: &'static str,
        /// Its bound.
        max: usize,
    },
    /// The best-guess record is not an SPF record.
    #[error("best-guess record {0:?} does not start with \"v=spf1\"")]
    Record(String),
}

/// What to do with a `pass` from a wide-open policy (one that passes at
/// least [`WIDE_OPEN_IPV4`] IPv4 addresses or [`WIDE_OPEN_IPV6_FRACTION`] of
/// IPv6, `+all` included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WideOpenPass {
    /// Keep it a pass (RFC 7208's answer; nothing is looked at). Default.
    #[default]
    Pass,
    /// Treat it as `neutral`, and say so: such a policy says nothing about
    /// who may send.
    Neutral,
}

/// A check's result with local policy applied.
#[derive(Clone, Debug)]
pub struct PolicyOutcome {
    /// The SPF check as made (its result is RFC 7208's).
    pub evaluation: Evaluation,
    /// The result the receiver acts on: the evaluation's, except that a
    /// wide-open pass becomes `neutral` under [`WideOpenPass::Neutral`].
    pub result: SpfResult,
    /// What local policy added, if anything.
    pub note: Option<PolicyNote>,
}

impl PolicyOutcome {
    /// The outcome of a check that local policy left alone.
    pub fn plain(evaluation: Evaluation) -> PolicyOutcome {
        PolicyOutcome { result: evaluation.result, evaluation, note: None }
    }

    /// Whether the fail was forwarded mail (see [`PolicyNote::Forwarded`]):
    /// it must not be rejected.
    pub fn is_forwarded(&self) -> bool {
        matches!(self.note, Some(PolicyNote::Forwarded { .. }))
    }

    /// The evaluation with [`PolicyOutcome::result`] as its result and the
    /// note as its [`Evaluation::policy_note`], for header fields and logs
    /// that print a result.
    pub fn effective_evaluation(&self) -> Evaluation {
        self.clone().into_evaluation()
    }

    /// [`PolicyOutcome::effective_evaluation`], consuming the outcome: what
    /// a [`Checker`](crate::Checker) with local policy returns.
    pub fn into_evaluation(self) -> Evaluation {
        let mut eval = self.evaluation;
        if eval.result != self.result {
            eval.result = self.result;
            eval.explanation = None;
        }
        eval.policy = self.note.map(Box::new);
        eval
    }

    /// The `Received-SPF:` field ([`crate::headers::received_spf`]) of the
    /// [effective evaluation](PolicyOutcome::effective_evaluation): the
    /// result acted on, and a `policy="..."` key naming what local policy
    /// did (RFC 7208 §9.1 allows further keys).
    pub fn received_spf(&self, receiver: Option<&str>) -> String {
        crate::headers::received_spf(&self.effective_evaluation(), receiver)
    }

    /// The `Authentication-Results:` field
    /// ([`crate::headers::authentication_results`]) of the [effective
    /// evaluation](PolicyOutcome::effective_evaluation): the result acted on,
    /// and a comment naming what local policy did.
    pub fn authentication_results(&self, authserv_id: &str) -> String {
        crate::headers::authentication_results(&self.effective_evaluation(), authserv_id)
    }
}

/// A receiver's local policy. See the module documentation.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct LocalPolicy {
    /// Clients never checked (policyd-spf's `skip_addresses`).
    pub skip_networks: IpSet,
    /// Clients treated as authorized (policyd-spf's `Whitelist`).
    pub allow_networks: IpSet,
    /// HELO names whose A/AAAA records, when they hold the client, make it
    /// authorized (policyd-spf's `HELO_Whitelist`). Lower case, no trailing dot.
    pub allow_helo: Vec<String>,
    /// Domains whose SPF policy, when it passes the client, makes it
    /// authorized (policyd-spf's `Domain_Whitelist`).
    pub allow_spf_domains: Vec<String>,
    /// Domains whose subdomains, when one is the client's validated PTR
    /// name, make it authorized (policyd-spf's `Domain_Whitelist_PTR`).
    pub allow_ptr_domains: Vec<String>,
    /// Forwarders whose SPF policy, when it passes the client, turns a
    /// `fail` into forwarded mail.
    pub trusted_forwarders: Vec<String>,
    /// The record evaluated for domains without SPF (`None`: no guess, the
    /// default). [`BEST_GUESS_RECORD`] is the usual one.
    pub best_guess: Option<String>,
    /// What a wide-open pass becomes. Default: a pass.
    pub wide_open: WideOpenPass,
    /// Wide-open judgements, per domain (shared by clones).
    wide_open_cache: Arc<WideOpenCache>,
    /// The count of networks in both sets, for [`MAX_NETWORKS`].
    networks: usize,
}

impl LocalPolicy {
    /// Adds networks (comma- or space-separated `address[/prefix]`) to
    /// `skip_networks`.
    pub fn add_skip_networks(&mut self, list: &str) -> Result<(), PolicyError> {
        let (set, count) = self.parse_networks(list)?;
        self.skip_networks = self.skip_networks.union(&set);
        self.networks += count;
        Ok(())
    }

    /// Adds networks (comma- or space-separated `address[/prefix]`) to
    /// `allow_networks`.
    pub fn add_allow_networks(&mut self, list: &str) -> Result<(), PolicyError> {
        let (set, count) = self.parse_networks(list)?;
        self.allow_networks = self.allow_networks.union(&set);
        self.networks += count;
        Ok(())
    }

    fn parse_networks(&self, list: &str) -> Result<(IpSet, usize), PolicyError> {
        let mut set = IpSet::new();
        let mut count = 0;
        for item in split_list(list) {
            count += 1;
            if self.networks + count > MAX_NETWORKS {
                return Err(PolicyError::TooMany { list: "networks", max: MAX_NETWORKS });
            }
            set = set.union(&parse_network(item)?);
        }
        Ok((set, count))
    }

    /// Adds domains (comma- or space-separated) to `allow_helo`.
    pub fn add_allow_helo(&mut self, list: &str) -> Result<(), PolicyError> {
        add_domains(&mut self.allow_helo, "allow_helo", list)
    }

    /// Adds domains (comma- or space-separated) to `allow_spf_domains`.
    pub fn add_allow_spf_domains(&mut self, list: &str) -> Result<(), PolicyError> {
        add_domains(&mut self.allow_spf_domains, "allow_spf_domains", list)
    }

    /// Adds domains (comma- or space-separated) to `allow_ptr_domains`.
    pub fn add_allow_ptr_domains(&mut self, list: &str) -> Result<(), PolicyError> {
        add_domains(&mut self.allow_ptr_domains, "allow_ptr_domains", list)
    }

    /// Adds domains (comma- or space-separated) to `trusted_forwarders`.
    pub fn add_trusted_forwarders(&mut self, list: &str) -> Result<(), PolicyError> {
        add_domains(&mut self.trusted_forwarders, "trusted_forwarders", list)
    }

    /// Sets the best-guess record (`None`: off).
    pub fn set_best_guess(&mut self, record: Option<&str>) -> Result<(), PolicyError> {
        self.best_guess = match record {
            None => None,
            Some(r) => {
                let r = r.trim();
                let lower = r.to_ascii_lowercase();
                if !(lower == "v=spf1" || lower.starts_with("v=spf1 ")) {
                    return Err(PolicyError::Record(r.to_string()));
                }
                Some(r.to_string())
            }
        };
        Ok(())
    }

    /// Whether the policy does anything at all.
    pub fn is_empty(&self) -> bool {
        self.skip_networks.is_empty()
            && self.allow_networks.is_empty()
            && self.allow_helo.is_empty()
            && self.allow_spf_domains.is_empty()
            && self.allow_ptr_domains.is_empty()
            && self.trusted_forwarders.is_empty()
            && self.best_guess.is_none()
            && self.wide_open == WideOpenPass::Pass
    }

    /// The exemptions that need no lookup: `skip_networks`, then
    /// `allow_networks`.
    pub fn before_check(&self, ip: IpAddr) -> Option<Exemption> {
        let ip = crate::normalize_ip(ip);
        if self.skip_networks.contains(ip) {
            Some(Exemption::Skipped)
        } else if self.allow_networks.contains(ip) {
            Some(Exemption::AllowedNetwork)
        } else {
            None
        }
    }

    /// Every exemption, cheapest first: [`LocalPolicy::before_check`], then
    /// `allow_helo`, `allow_spf_domains`, `allow_ptr_domains`, each through
    /// `lookup` (see the module documentation for the cost). A lookup that
    /// fails (temporarily or otherwise) exempts nothing. All of it stops at
    /// [`CheckOptions::deadline`] from now.
    pub async fn exempt<L: Lookup>(
        &self,
        lookup: &L,
        options: &CheckOptions,
        ip: IpAddr,
        helo: &str,
    ) -> Option<Exemption> {
        self.exempt_within(lookup, options, ip, helo, untimed_deadline(options)).await
    }

    /// [`LocalPolicy::exempt`], every lookup stopping at `deadline`.
    pub(crate) async fn exempt_within<L: Lookup>(
        &self,
        lookup: &L,
        options: &CheckOptions,
        ip: IpAddr,
        helo: &str,
        deadline: Option<Deadline>,
    ) -> Option<Exemption> {
        if let Some(exemption) = self.before_check(ip) {
            return Some(exemption);
        }
        if !self.allow_helo.is_empty() {
            let helo_name = normalize_domain(helo);
            if !helo_name.is_empty() && self.allow_helo.contains(&helo_name) {
                let record = format!("v=spf1 a:{helo_name} -all");
                if local_check(lookup, options, ip, &record, helo, deadline).await.result == SpfResult::Pass {
                    return Some(Exemption::AllowedHelo { helo: helo_name });
                }
            }
        }
        for domain in &self.allow_spf_domains {
            if domain_check(lookup, options, ip, domain, helo, deadline).await.result == SpfResult::Pass {
                return Some(Exemption::AllowedBySpf { domain: domain.clone() });
            }
        }
        for chunk in self.allow_ptr_domains.chunks(PTR_TERMS_PER_RECORD) {
            let mut record = String::from("v=spf1");
            for domain in chunk {
                record.push_str(" ptr:");
                record.push_str(domain);
            }
            record.push_str(" -all");
            let eval = local_check(lookup, options, ip, &record, helo, deadline).await;
            if eval.result == SpfResult::Pass
                && let Some(m) = &eval.matched
                && let Some(domain) = m.term.strip_prefix("ptr:")
            {
                return Some(Exemption::AllowedByPtr { domain: domain.to_string() });
            }
        }
        None
    }

    /// Applies the policy to a finished check, looking up what it needs
    /// through `lookup`: trusted forwarders on a Mail From `fail`, the best guess on
    /// `none` for a domain without a record, the wide-open judgement on
    /// `pass` (with [`WideOpenPass::Neutral`]). `now` dates the wide-open
    /// judgements it remembers. All of it stops at
    /// [`CheckOptions::deadline`] from now; what is not known by then
    /// changes nothing.
    pub async fn after_check<L: Lookup>(
        &self,
        lookup: &L,
        options: &CheckOptions,
        evaluation: Evaluation,
        now: Instant,
    ) -> PolicyOutcome {
        self.after_check_within(lookup, options, evaluation, now, untimed_deadline(options)).await
    }

    /// [`LocalPolicy::after_check`], every lookup stopping at `deadline`.
    pub(crate) async fn after_check_within<L: Lookup>(
        &self,
        lookup: &L,
        options: &CheckOptions,
        evaluation: Evaluation,
        now: Instant,
        deadline: Option<Deadline>,
    ) -> PolicyOutcome {
        let helo = evaluation.helo.clone().unwrap_or_default();
        match evaluation.result {
            // Forwarding breaks the sender's SPF, not the HELO's.
            SpfResult::Fail if evaluation.identity == Identity::MailFrom => {
                for forwarder in &self.trusted_forwarders {
                    let eval = domain_check(lookup, options, evaluation.ip, forwarder, &helo, deadline).await;
                    if eval.result == SpfResult::Pass {
                        let note =
                            PolicyNote::Forwarded { forwarder: forwarder.clone(), matched: eval.matched };
                        return PolicyOutcome { result: SpfResult::Fail, evaluation, note: Some(note) };
                    }
                }
            }
            SpfResult::None => {
                if let (Some(record), Some(Reason::NoRecord { domain, .. })) =
                    (&self.best_guess, &evaluation.reason)
                    && **domain == *evaluation.domain
                {
                    let request = CheckRequest::check_host(
                        evaluation.identity,
                        evaluation.ip,
                        domain,
                        &evaluation.sender,
                        &helo,
                    );
                    let guess = Evaluator::new(Overlay::new(lookup, domain, record), quiet(options))
                        .run_check(&request, deadline)
                        .await;
                    // A guess cut short by the deadline (or a DNS failure)
                    // guesses nothing.
                    if guess.result != SpfResult::TempError {
                        let note = PolicyNote::BestGuess { result: guess.result, matched: guess.matched };
                        return PolicyOutcome { result: SpfResult::None, evaluation, note: Some(note) };
                    }
                }
            }
            SpfResult::Pass if self.wide_open == WideOpenPass::Neutral => {
                if let Some(wide) =
                    self.judge_wide_open_within(lookup, options, &evaluation, now, deadline).await
                {
                    return PolicyOutcome {
                        result: SpfResult::Neutral,
                        evaluation,
                        note: Some(PolicyNote::WideOpen(wide)),
                    };
                }
            }
            _ => {}
        }
        PolicyOutcome::plain(evaluation)
    }

    /// A whole check with the policy around it, as a
    /// [`Checker`](crate::Checker) makes it: the exemptions (a client in
    /// `skip_networks` or `allow_networks` costs no lookup at all), the
    /// check, then [`LocalPolicy::after_check`]; everything through
    /// `evaluator`'s lookup and within one `deadline`. The result is the
    /// [effective evaluation](PolicyOutcome::into_evaluation), with what
    /// the policy did as its [`Evaluation::policy_note`].
    pub(crate) async fn check_within<L: Lookup>(
        &self,
        evaluator: &Evaluator<L>,
        request: &CheckRequest,
        deadline: Option<Deadline>,
    ) -> Evaluation {
        let (lookup, options) = (evaluator.lookup(), evaluator.options());
        // The networks first, without a lookup; the lookups of the other
        // lists (and of the after-check below) in futures of their own, on
        // the heap: they are large, and a check that needs none of them
        // should not carry (and move) their state.
        if let Some(exemption) = self.before_check(request.ip()) {
            return Evaluation::exempt(request, exemption);
        }
        if self.exempts_by_lookup() {
            let ip = request.ip();
            let lookups = Box::pin(self.exempt_within(lookup, options, ip, request.helo_name(), deadline));
            if let Some(exemption) = lookups.await {
                return Evaluation::exempt(request, exemption);
            }
        }
        let evaluation = evaluator.run_check(request, deadline).await;
        if !self.after_check_applies(&evaluation) {
            return evaluation;
        }
        Box::pin(self.after_check_within(lookup, options, evaluation, Instant::now(), deadline))
            .await
            .into_evaluation()
    }

    /// Whether an exemption may need lookups (`allow_helo`,
    /// `allow_spf_domains`, `allow_ptr_domains`).
    fn exempts_by_lookup(&self) -> bool {
        !self.allow_helo.is_empty()
            || !self.allow_spf_domains.is_empty()
            || !self.allow_ptr_domains.is_empty()
    }

    /// Whether [`LocalPolicy::after_check`] may change `evaluation` (the
    /// cases it looks at; it decides the rest).
    fn after_check_applies(&self, evaluation: &Evaluation) -> bool {
        match evaluation.result {
            SpfResult::Fail => {
                evaluation.identity == Identity::MailFrom && !self.trusted_forwarders.is_empty()
            }
            SpfResult::None => self.best_guess.is_some(),
            SpfResult::Pass => self.wide_open == WideOpenPass::Neutral,
            _ => false,
        }
    }

    /// Whether the policy that passed `evaluation` is wide open.
    ///
    /// Provisional: judged by a lint of the checked domain (its authorized
    /// address space, through `lookup`), remembered per domain for
    /// [`WIDE_OPEN_CACHE_TTL`]. To be replaced by the compiled policy's own
    /// flag on pass results when the evaluation carries it.
    pub async fn judge_wide_open<L: Lookup>(
        &self,
        lookup: &L,
        options: &CheckOptions,
        evaluation: &Evaluation,
        now: Instant,
    ) -> Option<WideOpen> {
        self.judge_wide_open_within(lookup, options, evaluation, now, None).await
    }

    /// [`LocalPolicy::judge_wide_open`], giving up at `deadline` (a
    /// judgement not made in time is not remembered).
    async fn judge_wide_open_within<L: Lookup>(
        &self,
        lookup: &L,
        options: &CheckOptions,
        evaluation: &Evaluation,
        now: Instant,
        deadline: Option<Deadline>,
    ) -> Option<WideOpen> {
        let domain: &str = &evaluation.domain;
        if let Some(known) = self.wide_open_cache.get(domain, now) {
            return known;
        }
        if deadline.is_some_and(|d| Instant::now() >= d.at) {
            return None;
        }
        let lint_options = LintOptions {
            limits: options.limits,
            max_queries: WIDE_OPEN_LINT_QUERIES,
            check_mail_hosts: false,
            ..LintOptions::default()
        };
        let linter = Linter::new(lookup, lint_options);
        let request = LintRequest::domain(domain);
        let report = match deadline {
            Some(Deadline { at, timers: true }) => {
                tokio::time::timeout_at(at.into(), linter.lint(&request)).await.ok()?
            }
            _ => linter.lint(&request).await,
        };
        let judged =
            if report.complete { wide_open_from_space(domain, &report.authorized.set) } else { None };
        self.wide_open_cache.put(domain, judged.clone(), now);
        judged
    }
}

/// The wide-open judgement of an authorized address space (see
/// [`WIDE_OPEN_IPV4`], [`WIDE_OPEN_IPV6_FRACTION`]).
pub fn wide_open_from_space(domain: &str, authorized: &IpSet) -> Option<WideOpen> {
    let ipv4 = authorized.count(Family::Ipv4).get();
    let ipv6_fraction = authorized.fraction(Family::Ipv6);
    let wide = ipv4.is_none_or(|n| n >= WIDE_OPEN_IPV4) || ipv6_fraction >= WIDE_OPEN_IPV6_FRACTION;
    wide.then(|| WideOpen { domain: domain.to_string(), ipv4_addresses: ipv4, ipv6_fraction })
}

/// Options for the extra checks: the caller's, without a trace.
fn quiet(options: &CheckOptions) -> CheckOptions {
    CheckOptions { trace: false, ..options.clone() }
}

/// [`CheckOptions::deadline`] from now, watched before each lookup (a
/// lookup already waiting is not cut short: that needs a timer).
fn untimed_deadline(options: &CheckOptions) -> Option<Deadline> {
    options.deadline.map(|d| Deadline { at: Instant::now() + d, timers: false })
}

/// `check_host()` of `domain` for the client (sender `postmaster@domain`).
async fn domain_check<L: Lookup>(
    lookup: &L,
    options: &CheckOptions,
    ip: IpAddr,
    domain: &str,
    helo: &str,
    deadline: Option<Deadline>,
) -> Evaluation {
    let sender = format!("postmaster@{domain}");
    let request = CheckRequest::check_host(Identity::MailFrom, ip, domain, &sender, helo);
    Evaluator::new(lookup, quiet(options)).run_check(&request, deadline).await
}

/// A synthetic record evaluated for the client as if published at
/// [`LOCAL_POLICY_DOMAIN`].
async fn local_check<L: Lookup>(
    lookup: &L,
    options: &CheckOptions,
    ip: IpAddr,
    record: &str,
    helo: &str,
    deadline: Option<Deadline>,
) -> Evaluation {
    let sender = format!("postmaster@{LOCAL_POLICY_DOMAIN}");
    let request = CheckRequest::check_host(Identity::MailFrom, ip, LOCAL_POLICY_DOMAIN, &sender, helo);
    Evaluator::new(Overlay::new(lookup, LOCAL_POLICY_DOMAIN, record), quiet(options))
        .run_check(&request, deadline)
        .await
}

/// Items of a comma- or space-separated list.
fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', ' ', '\t']).map(str::trim).filter(|s| !s.is_empty())
}

/// `address` or `address/prefix`; an IPv4-mapped IPv6 network
/// (`::ffff:127.0.0.0/104`) also covers the IPv4 addresses it maps, since
/// clients are checked as IPv4 (RFC 7208 §5).
pub fn parse_network(text: &str) -> Result<IpSet, PolicyError> {
    let bad = || PolicyError::Network(text.to_string());
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    if prefix > max {
        return Err(bad());
    }
    let mut set = IpSet::from_network(addr, prefix);
    if let IpAddr::V6(v6) = addr
        && prefix >= 96
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        set = set.union(&IpSet::from_network(IpAddr::V4(v4), prefix - 96));
    }
    Ok(set)
}

/// A name as checks compare it ([`crate::input::normalize_domain`]), blanks
/// around it dropped.
fn normalize_domain(name: &str) -> String {
    crate::input::normalize_domain(name.trim()).to_string()
}

/// Adds a list of domain names, each a valid multi-label domain
/// ([`crate::input::valid_domain`]) written in host-name characters
/// (letters, digits, `-`, `_`): a configuration names hosts and domains, not
/// macro targets.
fn add_domains(to: &mut Vec<String>, list_name: &'static str, list: &str) -> Result<(), PolicyError> {
    for item in split_list(list) {
        let name = normalize_domain(item);
        let ok = crate::input::valid_domain(&name)
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(PolicyError::Domain(item.to_string()));
        }
        if to.contains(&name) {
            continue;
        }
        if to.len() >= MAX_LISTED_DOMAINS {
            return Err(PolicyError::TooMany { list: list_name, max: MAX_LISTED_DOMAINS });
        }
        to.push(name);
    }
    Ok(())
}

/// Remembered wide-open judgements, per domain, bounded and dated.
struct WideOpenCache {
    entries: Mutex<lru::LruCache<String, (Option<WideOpen>, Instant)>>,
}

impl Default for WideOpenCache {
    fn default() -> Self {
        let size = NonZeroUsize::new(WIDE_OPEN_CACHE_ENTRIES).unwrap_or(NonZeroUsize::MIN);
        WideOpenCache { entries: Mutex::new(lru::LruCache::new(size)) }
    }
}

impl fmt::Debug for WideOpenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("WideOpenCache").field("entries", &len).finish()
    }
}

impl WideOpenCache {
    fn get(&self, domain: &str, now: Instant) -> Option<Option<WideOpen>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(domain) {
            Some((judged, at)) if now.saturating_duration_since(*at) < WIDE_OPEN_CACHE_TTL => {
                Some(judged.clone())
            }
            Some(_) => {
                entries.pop(domain);
                None
            }
            None => None,
        }
    }

    fn put(&self, domain: &str, judged: Option<WideOpen>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.put(domain.to_string(), (judged, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Zone;

    const ZONE: &str = r#"
$TTL 300
pass.example.        TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.example.        TXT "v=spf1 -all"
open.example.        TXT "v=spf1 +all"
big.example.         TXT "v=spf1 ip4:10.0.0.0/8 -all"
notquite.example.    TXT "v=spf1 ip4:10.0.0.0/9 -all"
big6.example.        TXT "v=spf1 ip6:2001::/16 -all"
include-open.example. TXT "v=spf1 include:open.example -all"
nospf.example.       A   198.51.100.7
nospf.example.       TXT "some-verification=1"
nospf.example.       MX  10 mx.nospf.example.
mx.nospf.example.    A   203.0.113.5
fwd.example.         TXT "v=spf1 ip4:203.0.113.0/24 -all"
relay.fwd.example.   A   203.0.113.9
9.113.0.203.in-addr.arpa. PTR relay.fwd.example.
8.113.0.203.in-addr.arpa. PTR forged.fwd.example.
forged.fwd.example.  A   198.51.100.1
"#;

    fn zone() -> Zone {
        Zone::from_master_str(ZONE, "<policy tests>").expect("zone parses")
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test IP")
    }

    fn options() -> CheckOptions {
        CheckOptions { trace: false, ..CheckOptions::default() }
    }

    fn check(zone: &Zone, client: &str, sender: &str) -> Evaluation {
        run(Evaluator::new(zone, options()).check_mail_from(ip(client), sender, "helo.example"))
    }

    #[test]
    fn networks_skip_and_allow() {
        let mut p = LocalPolicy::default();
        p.add_skip_networks("127.0.0.0/8,::ffff:127.0.0.0/104,::1").expect("skip list");
        p.add_allow_networks("192.0.2.0/31 2001:db8::/32").expect("allow list");
        assert_eq!(p.before_check(ip("127.4.5.6")), Some(Exemption::Skipped));
        assert_eq!(p.before_check(ip("::ffff:127.0.0.1")), Some(Exemption::Skipped));
        assert_eq!(p.before_check(ip("::1")), Some(Exemption::Skipped));
        assert_eq!(p.before_check(ip("192.0.2.1")), Some(Exemption::AllowedNetwork));
        assert_eq!(p.before_check(ip("192.0.2.2")), None);
        assert_eq!(p.before_check(ip("2001:db8::25")), Some(Exemption::AllowedNetwork));
        assert!(!Exemption::Skipped.is_allowed());
        assert!(Exemption::AllowedNetwork.is_allowed());
    }

    #[test]
    fn ipv4_mapped_networks_cover_ipv4_clients() {
        let set = parse_network("::ffff:10.0.0.0/104").expect("mapped network");
        assert!(set.contains(ip("10.1.2.3")));
        assert!(!set.contains(ip("11.1.2.3")));
    }

    #[test]
    fn network_syntax_errors() {
        for bad in [
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "192.0.2.0/x",
            "example.com",
            "192.0.2.0/+8",
            "1.2.3.4/0008",
        ] {
            assert!(parse_network(bad).is_err(), "{bad} must be refused");
        }
        assert!(parse_network("192.0.2.0/32").is_ok());
        assert!(parse_network("0.0.0.0/0").is_ok());
        assert!(parse_network("2001:db8::/128").is_ok());
    }

    #[test]
    fn domain_lists_are_bounded_at_max_listed_domains() {
        let mut p = LocalPolicy::default();
        let list: Vec<String> = (0..MAX_LISTED_DOMAINS).map(|i| format!("d{i}.example")).collect();
        p.add_trusted_forwarders(&list.join(",")).expect("exactly the bound is fine");
        assert_eq!(p.trusted_forwarders.len(), MAX_LISTED_DOMAINS);
        p.add_trusted_forwarders("d0.example").expect("a duplicate adds nothing");
        assert_eq!(
            p.add_trusted_forwarders("one-more.example"),
            Err(PolicyError::TooMany { list: "trusted_forwarders", max: MAX_LISTED_DOMAINS })
        );
        assert!(matches!(p.add_allow_spf_domains("no_dots"), Err(PolicyError::Domain(_))));
        assert!(matches!(p.add_allow_spf_domains("bad..example"), Err(PolicyError::Domain(_))));
        p.add_allow_spf_domains("Fwd.Example.").expect("case and trailing dot are normalized");
        assert_eq!(p.allow_spf_domains, ["fwd.example"]);
    }

    #[test]
    fn network_count_is_bounded() {
        let mut p = LocalPolicy { networks: MAX_NETWORKS - 1, ..LocalPolicy::default() };
        p.add_allow_networks("192.0.2.1").expect("the last one fits");
        assert_eq!(
            p.add_allow_networks("192.0.2.2"),
            Err(PolicyError::TooMany { list: "networks", max: MAX_NETWORKS })
        );
    }

    #[test]
    fn helo_allow_needs_the_name_to_resolve_to_the_client() {
        let zone = zone();
        let mut p = LocalPolicy::default();
        p.add_allow_helo("relay.fwd.example").expect("list");
        let got = run(p.exempt(&zone, &options(), ip("203.0.113.9"), "Relay.Fwd.Example."));
        assert_eq!(got, Some(Exemption::AllowedHelo { helo: "relay.fwd.example".into() }));
        // A forged HELO: the name does not resolve to this client.
        assert_eq!(run(p.exempt(&zone, &options(), ip("198.51.100.1"), "relay.fwd.example")), None);
        // Not listed.
        assert_eq!(run(p.exempt(&zone, &options(), ip("203.0.113.9"), "other.example")), None);
    }

    #[test]
    fn spf_and_ptr_allow_lists() {
        let zone = zone();
        let mut p = LocalPolicy::default();
        p.add_allow_spf_domains("nosuch.example,fwd.example").expect("list");
        assert_eq!(
            run(p.exempt(&zone, &options(), ip("203.0.113.77"), "h.example")),
            Some(Exemption::AllowedBySpf { domain: "fwd.example".into() })
        );
        assert_eq!(run(p.exempt(&zone, &options(), ip("198.51.100.77"), "h.example")), None);

        let mut p = LocalPolicy::default();
        p.add_allow_ptr_domains("other.example fwd.example").expect("list");
        assert_eq!(
            run(p.exempt(&zone, &options(), ip("203.0.113.9"), "h.example")),
            Some(Exemption::AllowedByPtr { domain: "fwd.example".into() })
        );
        // The PTR name does not resolve back to the client: not validated.
        assert_eq!(run(p.exempt(&zone, &options(), ip("203.0.113.8"), "h.example")), None);
        // No PTR at all.
        assert_eq!(run(p.exempt(&zone, &options(), ip("203.0.113.7"), "h.example")), None);
    }

    #[test]
    fn ptr_allow_list_longer_than_one_record() {
        let zone = zone();
        let mut p = LocalPolicy::default();
        let mut list: Vec<String> = (0..PTR_TERMS_PER_RECORD + 3).map(|i| format!("d{i}.example")).collect();
        list.push("fwd.example".into());
        p.add_allow_ptr_domains(&list.join(",")).expect("list");
        assert_eq!(
            run(p.exempt(&zone, &options(), ip("203.0.113.9"), "h.example")),
            Some(Exemption::AllowedByPtr { domain: "fwd.example".into() })
        );
    }

    #[test]
    fn trusted_forwarder_turns_fail_into_forwarded() {
        let zone = zone();
        let mut p = LocalPolicy::default();
        p.add_trusted_forwarders("fwd.example").expect("list");
        let eval = check(&zone, "203.0.113.9", "alice@fail.example");
        assert_eq!(eval.result, SpfResult::Fail);
        let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
        assert!(out.is_forwarded());
        assert_eq!(out.result, SpfResult::Fail, "the result stays the domain's own");
        let Some(PolicyNote::Forwarded { forwarder, matched }) = &out.note else { panic!("{out:?}") };
        assert_eq!(forwarder, "fwd.example");
        assert_eq!(matched.as_ref().map(|m| &*m.term), Some("ip4:203.0.113.0/24"));
        let header = crate::headers::unfold(&out.received_spf(Some("mx.example")));
        assert!(header.starts_with("Received-SPF: fail "), "{header}");
        assert!(
            header.ends_with(r#"; policy="forwarded: trusted forwarder fwd.example authorizes the client""#),
            "{header}"
        );

        // A HELO fail is the client's own: forwarding does not explain it.
        let helo = run(Evaluator::new(&zone, options()).check_helo(ip("203.0.113.9"), "fail.example"));
        assert_eq!(helo.result, SpfResult::Fail);
        assert!(run(p.after_check(&zone, &options(), helo, Instant::now())).note.is_none());

        // A client the forwarder does not authorize: a plain fail.
        let eval = check(&zone, "198.51.100.99", "alice@fail.example");
        let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
        assert!(!out.is_forwarded());
        assert!(out.note.is_none());
    }

    #[test]
    fn best_guess_is_off_by_default_and_reported_as_a_guess() {
        let zone = zone();
        let eval = check(&zone, "198.51.100.20", "bob@nospf.example");
        assert_eq!(eval.result, SpfResult::None);
        let out = run(LocalPolicy::default().after_check(&zone, &options(), eval.clone(), Instant::now()));
        assert!(out.note.is_none());

        let mut p = LocalPolicy::default();
        p.set_best_guess(Some(BEST_GUESS_RECORD)).expect("record");
        // 198.51.100.20 is in the /24 of the domain's A record.
        let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
        assert_eq!(out.result, SpfResult::None, "a guess never becomes the domain's result");
        let Some(PolicyNote::BestGuess { result, matched }) = &out.note else { panic!("{out:?}") };
        assert_eq!(*result, SpfResult::Pass);
        assert_eq!(matched.as_ref().map(|m| &*m.term), Some("a/24"));
        assert!(out.received_spf(None).starts_with("Received-SPF: none "));

        // Through the MX's /24.
        let eval = check(&zone, "203.0.113.200", "bob@nospf.example");
        let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
        assert!(
            matches!(&out.note, Some(PolicyNote::BestGuess { result: SpfResult::Pass, matched: Some(m) }) if &*m.term == "mx/24")
        );
        // Elsewhere: neutral (no all).
        let eval = check(&zone, "192.0.2.200", "bob@nospf.example");
        let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
        assert!(matches!(
            &out.note,
            Some(PolicyNote::BestGuess { result: SpfResult::Neutral, matched: None })
        ));
        // A domain that does not exist is not guessed for (nothing to guess from
        // would still be evaluated, but the reason is not "no record" for invalid names).
        assert!(p.set_best_guess(Some("ip4:1.2.3.4")).is_err());
    }

    #[test]
    fn wide_open_pass_becomes_neutral_only_when_asked() {
        let zone = zone();
        for (sender, wide) in [
            ("a@open.example", true),
            ("a@big.example", true),
            ("a@notquite.example", false),
            ("a@big6.example", true),
            ("a@include-open.example", true),
        ] {
            let client = if sender.contains("big6") { "2001::1" } else { "10.1.1.1" };
            let eval = check(&zone, client, sender);
            assert_eq!(eval.result, SpfResult::Pass, "{sender}");
            let out =
                run(LocalPolicy::default().after_check(&zone, &options(), eval.clone(), Instant::now()));
            assert_eq!(out.result, SpfResult::Pass, "{sender}: off by default");
            let p = LocalPolicy { wide_open: WideOpenPass::Neutral, ..LocalPolicy::default() };
            let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
            if wide {
                assert_eq!(out.result, SpfResult::Neutral, "{sender}");
                assert!(matches!(&out.note, Some(PolicyNote::WideOpen(_))), "{sender}");
                let header = crate::headers::unfold(&out.received_spf(Some("mx.example")));
                assert!(header.starts_with("Received-SPF: neutral "), "{header}");
                assert!(header.contains("; policy=\"wide-open policy of "), "{header}");
                let ar = crate::headers::unfold(&out.authentication_results("mx.example"));
                assert!(ar.contains("spf=neutral") && ar.contains("(wide-open policy of"), "{ar}");
            } else {
                assert_eq!(out.result, SpfResult::Pass, "{sender}");
                assert!(out.note.is_none());
            }
        }
    }

    #[test]
    fn wide_open_thresholds_at_and_below_the_bound() {
        let at = IpSet::from_network(ip("10.0.0.0"), 8);
        let below =
            IpSet::from_network(ip("10.0.0.0"), 8).difference(&IpSet::from_network(ip("10.0.0.0"), 32));
        assert!(wide_open_from_space("d", &at).is_some());
        assert!(wide_open_from_space("d", &below).is_none());
        let v6_at = IpSet::from_network(ip("2001::"), 16);
        let v6_below = IpSet::from_network(ip("2001::"), 17);
        assert!(wide_open_from_space("d", &v6_at).is_some());
        assert!(wide_open_from_space("d", &v6_below).is_none());
    }

    #[test]
    fn wide_open_judgements_are_remembered_then_expire() {
        let zone = zone();
        let p = LocalPolicy { wide_open: WideOpenPass::Neutral, ..LocalPolicy::default() };
        let eval = check(&zone, "10.1.1.1", "a@open.example");
        let t0 = Instant::now();
        assert!(run(p.judge_wide_open(&zone, &options(), &eval, t0)).is_some());
        // Remembered: a later judgement does not lint again, even if DNS changed.
        let changed =
            Zone::from_master_str("open.example. 300 TXT \"v=spf1 -all\"\n", "<changed>").expect("zone");
        assert!(run(p.judge_wide_open(&changed, &options(), &eval, t0 + Duration::from_secs(60))).is_some());
        // Past the TTL it is judged again.
        let later = t0 + WIDE_OPEN_CACHE_TTL;
        assert!(run(p.judge_wide_open(&changed, &options(), &eval, later)).is_none());
    }

    #[test]
    fn other_results_are_left_alone() {
        let zone = zone();
        let mut p = LocalPolicy { wide_open: WideOpenPass::Neutral, ..LocalPolicy::default() };
        p.add_trusted_forwarders("fwd.example").expect("list");
        p.set_best_guess(Some(BEST_GUESS_RECORD)).expect("record");
        let eval = check(&zone, "192.0.2.1", "a@pass.example");
        let out = run(p.after_check(&zone, &options(), eval, Instant::now()));
        assert_eq!((out.result, out.note), (SpfResult::Pass, None));
        assert!(!p.is_empty());
        assert!(LocalPolicy::default().is_empty());
    }
}
