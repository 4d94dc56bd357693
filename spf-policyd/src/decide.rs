//! One policy decision: local policy, the HELO check, the Mail From check,
//! and the action Postfix gets, with policyd-spf's texts and log lines.

use std::net::IpAddr;
use std::time::Instant;

use spf_core::dns::ResolverSettings;
use spf_core::macros::{MacroContext, MacroString};
use spf_core::policy::{Exemption, PolicyOutcome};
use spf_core::{CheckOptions, Checker, CheckerConfig, Identity, Limits, SpfResult};

use crate::config::{Config, HeaderType, RejectPolicy};
use crate::log::{Level, Logger};
use crate::protocol::Request;

/// The explanation of a `fail` without `exp=`: policyd-spf's (pyspf's), so
/// reject texts stay the ones admins know.
pub const DEFAULT_EXPLANATION: &str = "SPF fail - not authorized";

/// Longest text after the reply code: an SMTP reply line is at most 512
/// octets with its code and CRLF (RFC 5321 4.5.3.1.5).
pub const MAX_REPLY_TEXT: usize = 480;

/// Where the reason texts point (policyd-spf's `{url}`).
const WHY_URL: &str = "http://www.openspf.net/Why";

/// The checker, its configuration and the lookup local policy uses (over
/// the checker's own cache). Rebuilt on reload.
#[derive(Debug)]
pub struct Engine {
    /// The configuration it was built from.
    pub config: Config,
    /// Checks, and the lookups of local policy (through its cache).
    checker: Checker,
    options: CheckOptions,
}

/// What Postfix is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The action (without `action=`).
    pub action: String,
    /// Whether the action prepends a header: repeated requests of the same
    /// transaction then get `dunno` (one header per message).
    pub prepends: bool,
}

impl Decision {
    fn dunno() -> Decision {
        Decision { action: "dunno".to_string(), prepends: false }
    }

    /// The answer to a later request of the same transaction (the same
    /// `instance`): a rejection or deferral again, `dunno` otherwise.
    pub fn repeated(&self) -> Decision {
        if self.prepends { Decision::dunno() } else { self.clone() }
    }
}

impl Engine {
    /// Builds the engine; keeps `previous`'s checker (and so its cache)
    /// when the DNS, cache and limit settings did not change.
    pub fn new(config: Config, previous: Option<&Engine>) -> Result<Engine, String> {
        let settings = ResolverSettings::default()
            .with_nameservers(config.nameservers.clone())
            .with_timeout(config.dns_timeout);
        let explanation = MacroString::parse(DEFAULT_EXPLANATION.as_bytes(), MacroContext::Explanation)
            .map_err(|e| e.to_string())?;
        let options = CheckOptions::default()
            .with_limits(Limits::default().with_void_lookups(config.void_limit))
            .with_default_explanation(explanation)
            .with_trace(false)
            .with_deadline(Some(config.lookup_time));
        let checker = match previous {
            Some(old) if old.config.same_checker(&config) => old.checker.clone(),
            _ => {
                let mut checker_config =
                    CheckerConfig::default().with_resolver(settings).with_options(options.clone());
                checker_config.cache.max_entries = config.cache_size;
                Checker::new(checker_config).map_err(|e| e.to_string())?
            }
        };
        Ok(Engine { config, checker, options })
    }

    /// Decides one request and logs it. Never takes longer than
    /// `Request_Deadline`; past it the result is a temperror.
    pub async fn decide(&self, request: &Request, log: &Logger) -> Decision {
        let Some(client) = request.client_address.as_deref() else {
            log.log(Level::Warning, "request without client_address: dunno");
            return Decision::dunno();
        };
        let Ok(ip) = spf_core::parse_ip(client) else {
            log.log(
                Level::Warning,
                &format!("client_address {:?} is not an IP address: dunno", clean(client, 64)),
            );
            return Decision::dunno();
        };
        let ctx = Context::new(&self.config, request, ip);
        match tokio::time::timeout(self.config.request_deadline, self.decide_in_time(&ctx, log)).await {
            Ok(decision) => decision,
            Err(_) => {
                let secs = self.config.request_deadline.as_secs();
                log.log(
                    Level::Warning,
                    &format!("request for client {ip} took longer than Request_Deadline ({secs} s)"),
                );
                if self.config.temperror_defer && !self.config.test_only {
                    let text = self.reason(
                        &ctx,
                        "deferred",
                        &format!("SPF Temporary Error: no answer within {secs} s"),
                        Identity::MailFrom,
                    );
                    let code = if self.config.enhanced_status_codes { "4.7.24 " } else { "" };
                    self.finish(
                        &ctx,
                        log,
                        Decision { action: format!("defer_if_permit {code}{text}"), prepends: false },
                    )
                } else {
                    self.finish(&ctx, log, Decision::dunno())
                }
            }
        }
    }

    async fn decide_in_time(&self, ctx: &Context<'_>, log: &Logger) -> Decision {
        let c = &self.config;
        // Local exemptions: networks at once, then the lookups, bounded by
        // Whitelist_Lookup_Time.
        let exemption = match c.policy.before_check(ctx.ip) {
            Some(e) => Some(e),
            None => tokio::time::timeout(
                c.whitelist_lookup_time,
                c.policy.exempt(self.checker.lookup(), &self.options, ctx.ip, ctx.helo),
            )
            .await
            .unwrap_or_else(|_| {
                log.log(Level::Warning, &format!("allow-list lookups for {} timed out", ctx.ip));
                None
            }),
        };
        if let Some(exemption) = exemption {
            let what = match exemption {
                Exemption::Skipped => "SPF check N/A for local connections",
                Exemption::AllowedNetwork => "SPF skipped for whitelisted relay",
                Exemption::AllowedHelo { .. } => "SPF skipped for whitelisted HELO domain",
                Exemption::AllowedBySpf { .. } => "SPF skipped for whitelisted relay domain",
                Exemption::AllowedByPtr { .. } => "SPF skipped for PTR whitelisted relay domain",
            };
            let header = format!(
                "X-Comment: {what} - client-ip={}; helo={}; envelope-from={}; receiver={}",
                ctx.ip,
                clean(ctx.helo, 255),
                clean(ctx.envelope_from(), 512),
                ctx.receiver
            );
            log.log(Level::Debug, &format!("{} exempt: {exemption}", ctx.ip));
            return self.header_decision(ctx, log, header);
        }

        // HELO.
        let null_sender = ctx.sender.is_empty();
        let mut helo_outcome = None;
        if c.helo_reject != RejectPolicy::NoCheck && !ctx.helo.is_empty() {
            let eval = self.checker.check_helo(ctx.ip, ctx.helo).await;
            let outcome = self.after(eval).await;
            self.log_result(ctx, log, &outcome);
            if let Some(decision) = self.verdict(ctx, c.helo_reject, &outcome, null_sender) {
                return self.finish(ctx, log, decision);
            }
            helo_outcome = Some(outcome);
        }
        // Mail From (the null sender has none: its identity is the HELO).
        let mut mail_outcome = None;
        if c.mail_from_reject != RejectPolicy::NoCheck && !null_sender {
            let eval = self.checker.check(ctx.ip, ctx.sender, ctx.helo).await;
            let outcome = self.after(eval).await;
            self.log_result(ctx, log, &outcome);
            if let Some(decision) = self.verdict(ctx, c.mail_from_reject, &outcome, null_sender) {
                return self.finish(ctx, log, decision);
            }
            mail_outcome = Some(outcome);
        }
        match mail_outcome.or(helo_outcome) {
            None => self.finish(ctx, log, Decision::dunno()),
            Some(outcome) => {
                let header = match c.header_type {
                    HeaderType::Ar => outcome.authentication_results(&c.authserv_id),
                    HeaderType::Spf | HeaderType::None => outcome.received_spf(Some(&ctx.receiver)),
                };
                // The policy protocol carries the action on one line.
                self.header_decision(ctx, log, spf_core::headers::unfold(&header))
            }
        }
    }

    /// Local policy after a check, bounded by `Lookup_Time`.
    async fn after(&self, eval: spf_core::Evaluation) -> PolicyOutcome {
        let policy = &self.config.policy;
        if policy.is_empty() {
            return PolicyOutcome::plain(eval);
        }
        let fallback = eval.clone();
        let work = policy.after_check(self.checker.lookup(), &self.options, eval, Instant::now());
        tokio::time::timeout(self.config.lookup_time, work)
            .await
            .unwrap_or_else(|_| PolicyOutcome::plain(fallback))
    }

    /// A header to prepend, or (Header_Type = None) not.
    fn header_decision(&self, ctx: &Context<'_>, log: &Logger, header: String) -> Decision {
        if self.config.header_type == HeaderType::None {
            log.log(Level::Info, &format!("{}Header field not prepended: {header}", ctx.log_prefix));
            return Decision::dunno();
        }
        self.finish(ctx, log, Decision { action: format!("prepend {header}"), prepends: true })
    }

    /// Applies TestOnly and logs the action.
    fn finish(&self, ctx: &Context<'_>, log: &Logger, decision: Decision) -> Decision {
        let rejects = !decision.prepends && decision.action != "dunno";
        if rejects && self.config.test_only {
            log.log(
                Level::Info,
                &format!("{}TestOnly: would answer {}; answering dunno", ctx.log_prefix, decision.action),
            );
            return Decision::dunno();
        }
        log.log(Level::Info, &format!("{}{}", ctx.log_prefix, decision.action));
        decision
    }

    /// policyd-spf's result line: `Fail; identity=mailfrom; client-ip=...`.
    fn log_result(&self, ctx: &Context<'_>, log: &Logger, outcome: &PolicyOutcome) {
        let eval = &outcome.evaluation;
        let mut line = format!(
            "{}; identity={}; client-ip={}; helo={}; envelope-from={}; receiver={}",
            result_word(eval.result),
            eval.identity.as_str(),
            ctx.ip,
            clean(ctx.helo, 255),
            clean(ctx.envelope_from(), 512),
            ctx.receiver
        );
        if let Some(note) = &outcome.note {
            line.push_str(&format!("; policy=\"{note}\""));
        }
        log.log(Level::Info, &line);
    }

    /// Reject, defer, or `None` (go on) for one identity's outcome.
    fn verdict(
        &self,
        ctx: &Context<'_>,
        policy: RejectPolicy,
        outcome: &PolicyOutcome,
        null_sender: bool,
    ) -> Option<Decision> {
        let c = &self.config;
        if outcome.is_forwarded() || matches!(policy, RejectPolicy::False | RejectPolicy::NoCheck) {
            return None;
        }
        let identity = outcome.evaluation.identity;
        let result = outcome.result;
        let listed = identity == Identity::MailFrom
            && c.reject_not_pass_domains.iter().any(|d| **d == *outcome.evaluation.domain);
        let reject = match policy {
            RejectPolicy::SpfNotPass => {
                matches!(
                    result,
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral | SpfResult::PermError
                )
            }
            RejectPolicy::Softfail => matches!(result, SpfResult::Fail | SpfResult::SoftFail),
            RejectPolicy::Fail => result == SpfResult::Fail,
            RejectPolicy::Null => result == SpfResult::Fail && null_sender && identity == Identity::Helo,
            RejectPolicy::False | RejectPolicy::NoCheck => false,
        } || (listed && matches!(result, SpfResult::SoftFail | SpfResult::Neutral))
            || (result == SpfResult::PermError && c.permerror_reject);
        let enhanced = |code: &str| if c.enhanced_status_codes { format!("{code} ") } else { String::new() };
        if reject {
            let (code, spf) = match result {
                SpfResult::PermError => ("5.7.24", format!("SPF Permanent Error: {}", reason_of(outcome))),
                SpfResult::Fail => (
                    "5.7.23",
                    outcome.evaluation.explanation.clone().unwrap_or_else(|| DEFAULT_EXPLANATION.to_string()),
                ),
                SpfResult::SoftFail => ("5.7.23", "domain owner discourages use of this host".to_string()),
                _ => ("5.7.23", "access neither permitted nor denied".to_string()),
            };
            let text = self.reason(ctx, "rejected", &spf, identity);
            return Some(Decision { action: format!("550 {}{text}", enhanced(code)), prepends: false });
        }
        if result == SpfResult::TempError && c.temperror_defer {
            let spf = format!("SPF Temporary Error: {}", reason_of(outcome));
            let text = self.reason(ctx, "deferred", &spf, identity);
            return Some(Decision {
                action: format!("defer_if_permit {}{text}", enhanced("4.7.24")),
                prepends: false,
            });
        }
        None
    }

    /// `Reason_Message` with `{rejectdefer}`, `{spf}` and `{url}` filled in
    /// (one pass: text from DNS cannot add placeholders).
    fn reason(&self, ctx: &Context<'_>, rejectdefer: &str, spf: &str, identity: Identity) -> String {
        let (scope, id) = match identity {
            Identity::Helo => ("helo", ctx.helo),
            Identity::MailFrom => ("mfrom", ctx.sender),
        };
        let url = format!("{WHY_URL}?s={scope};id={};ip={};r={}", clean(id, 320), ctx.ip, ctx.receiver);
        let template = &self.config.reason_message;
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open..];
            let (value, len) = if after.starts_with("{rejectdefer}") {
                (rejectdefer, "{rejectdefer}".len())
            } else if after.starts_with("{spf}") {
                (spf, "{spf}".len())
            } else if after.starts_with("{url}") {
                (url.as_str(), "{url}".len())
            } else {
                ("{", 1)
            };
            out.push_str(value);
            rest = &after[len..];
        }
        out.push_str(rest);
        clean(&out, MAX_REPLY_TEXT)
    }
}

/// What a decision needs from the request.
struct Context<'a> {
    ip: IpAddr,
    helo: &'a str,
    sender: &'a str,
    receiver: String,
    log_prefix: String,
}

impl<'a> Context<'a> {
    fn new(config: &Config, request: &'a Request, ip: IpAddr) -> Context<'a> {
        let helo = request.helo_name.as_deref().unwrap_or("").trim();
        let sender = request.sender.as_deref().unwrap_or("").trim();
        let sender = sender.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(sender);
        // policyd-spf's receiver: the first recipient's domain, or hidden.
        let receiver = match request.recipient.as_deref().and_then(|r| r.rsplit_once('@')) {
            Some((_, domain)) if !config.hide_receiver && !domain.is_empty() => clean(domain, 255),
            _ => "<UNKNOWN>".to_string(),
        };
        let log_prefix = if config.queue_id {
            format!("{}: ", clean(request.queue_id.as_deref().unwrap_or(""), 64))
        } else {
            String::new()
        };
        Context { ip, helo, sender, receiver, log_prefix }
    }

    fn envelope_from(&self) -> &str {
        if self.sender.is_empty() { "<>" } else { self.sender }
    }
}

/// pyspf's result words, which policyd-spf's log lines carry.
pub fn result_word(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "Pass",
        SpfResult::Fail => "Fail",
        SpfResult::SoftFail => "Softfail",
        SpfResult::Neutral => "Neutral",
        SpfResult::None => "None",
        SpfResult::TempError => "Temperror",
        SpfResult::PermError => "Permerror",
    }
}

fn reason_of(outcome: &PolicyOutcome) -> String {
    outcome.evaluation.reason.as_ref().map(ToString::to_string).unwrap_or_else(|| "unknown".to_string())
}

/// Printable ASCII only (others become `?`), at most `max` bytes: text from
/// clients and DNS goes into replies, headers and logs.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if out.len() >= max {
            break;
        }
        out.push(if (' '..='~').contains(&c) { c } else { '?' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_bounds_and_replaces() {
        assert_eq!(clean("a\r\nb\u{e9}", 100), "a??b?");
        assert_eq!(clean(&"x".repeat(600), MAX_REPLY_TEXT).len(), MAX_REPLY_TEXT);
    }

    #[test]
    fn repeated_requests_of_a_transaction() {
        let header = Decision { action: "prepend Received-SPF: pass".into(), prepends: true };
        assert_eq!(header.repeated().action, "dunno");
        let reject = Decision { action: "550 5.7.23 no".into(), prepends: false };
        assert_eq!(reject.repeated(), reject);
    }
}
