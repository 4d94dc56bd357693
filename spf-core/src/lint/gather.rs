//! The first pass: every DNS answer the analysis needs, fetched once, within
//! a budget of queries, records and time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use crate::dns::{Answer, Lookup, LookupError, LookupResult, RecordType, Records, TempFailure};
use crate::record::{Mechanism, Record, SpfSelection, Term};

use super::LintOptions;
use super::terms::{Ctx, Resolved, Via, resolve, valid_name};

/// Where a run starts.
#[derive(Clone, Debug)]
pub(crate) enum Root {
    /// A domain's published record (possibly overlaid with a draft).
    Domain(String),
    /// A record text without a domain.
    Text(String),
}

impl Root {
    pub(crate) fn domain(&self) -> Option<String> {
        match self {
            Root::Domain(d) => Some(d.clone()),
            Root::Text(_) => None,
        }
    }
}

/// A [`Lookup`] that asks each (name, type) once, stops after a number of
/// queries or at a deadline, and lets the analysis read answers without
/// waiting. Answers that were never fetched (budget or time spent) are not
/// remembered, so the analysis sees them as unknown rather than as errors.
pub(crate) struct Memo<'a, L> {
    upstream: &'a L,
    answers: Mutex<HashMap<(Box<str>, RecordType), LookupResult>>,
    sent: AtomicU32,
    max: u32,
    deadline: Option<Instant>,
    exhausted: AtomicBool,
}

impl<'a, L: Lookup> Memo<'a, L> {
    /// A memo that sends at most `options.max_queries` queries, none after
    /// `deadline`.
    pub(crate) fn new(upstream: &'a L, options: &LintOptions, deadline: Option<Instant>) -> Self {
        Memo {
            upstream,
            answers: Mutex::new(HashMap::new()),
            sent: AtomicU32::new(0),
            max: options.max_queries,
            deadline,
            exhausted: AtomicBool::new(false),
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn late(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// The answer, if it was fetched.
    pub(crate) fn cached(&self, name: &str, rtype: RecordType) -> Option<LookupResult> {
        let key = (name.to_ascii_lowercase().into_boxed_str(), rtype);
        self.answers.lock().ok()?.get(&key).cloned()
    }

    /// Queries sent upstream.
    pub(crate) fn sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed).min(self.max)
    }

    /// Whether a query was refused for lack of budget or time.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    fn refuse(&self, why: &str) -> LookupResult {
        self.exhausted.store(true, Ordering::Relaxed);
        Err(LookupError::Temporary(TempFailure::Other(why.into())))
    }
}

impl<L: Lookup> Lookup for Memo<'_, L> {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        if let Some(hit) = self.cached(name, rtype) {
            return hit;
        }
        // Checked before sending too: an answer that is ready at once (a
        // zone's) would otherwise win over a passed deadline.
        if self.late() {
            return self.refuse("lint deadline passed");
        }
        if self.sent.fetch_add(1, Ordering::Relaxed) >= self.max {
            return self.refuse("lint query budget spent");
        }
        let work = self.upstream.lookup(name, rtype);
        let result = match self.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), work).await {
                Ok(result) => result,
                Err(_) => return self.refuse("lint deadline passed"),
            },
            None => work.await,
        };
        if let Ok(mut answers) = self.answers.lock() {
            answers.insert((name.to_ascii_lowercase().into_boxed_str(), rtype), result.clone());
        }
        result
    }
}

/// Fetches the records of the tree and the answers their terms need.
/// Returns false when the record budget or the deadline stopped it.
pub(crate) async fn gather<L: Lookup>(dns: &Memo<'_, L>, root: &Root, options: &LintOptions) -> bool {
    let mut queue: VecDeque<(String, Via)> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    let sender_domain = root.domain();
    match root {
        Root::Domain(domain) => queue.push_back((domain.clone(), Via::Check)),
        Root::Text(text) => {
            if let Ok(record) = Record::parse(text) {
                let ctx = Ctx { domain: None, sender_domain: None };
                needs(dns, &record, ctx, Via::Check, options, &mut queue).await;
            }
        }
    }
    while let Some((domain, via)) = queue.pop_front() {
        if seen.contains(&domain) {
            continue;
        }
        if seen.len() >= options.max_records as usize || dns.late() {
            return false;
        }
        seen.insert(domain.clone());
        if let Ok(Answer { records: Records::Txt(txt), .. }) = dns.lookup(&domain, RecordType::Txt).await
            && let SpfSelection::One(Ok(record)) = txt.spf()
        {
            let ctx = Ctx { domain: Some(&domain), sender_domain: sender_domain.as_deref() };
            needs(dns, record, ctx, via, options, &mut queue).await;
        }
    }
    true
}

/// Fetches what one record's evaluated terms need; queues include and
/// redirect targets.
async fn needs<L: Lookup>(
    dns: &Memo<'_, L>,
    record: &Record,
    ctx: Ctx<'_>,
    via: Via,
    options: &LintOptions,
    queue: &mut VecDeque<(String, Via)>,
) {
    for term in record.terms() {
        let Term::Directive(directive) = term else { continue };
        match &directive.mechanism {
            // RFC 7208 §5.1: mechanisms after "all" will never be tested.
            Mechanism::All => break,
            Mechanism::Include(spec) => {
                if let Resolved::Name(target) = resolve(Some(spec), ctx) {
                    queue.push_back((target, Via::Include));
                }
            }
            Mechanism::A { domain, .. } => {
                if let Resolved::Name(target) = resolve(domain.as_ref(), ctx) {
                    addresses(dns, &target).await;
                }
            }
            Mechanism::Mx { domain, .. } => {
                let Resolved::Name(target) = resolve(domain.as_ref(), ctx) else { continue };
                if let Ok(Answer { records: Records::Mx(names), .. }) =
                    dns.lookup(&target, RecordType::Mx).await
                    && names.len() <= options.limits.mx_names as usize
                {
                    for name in names.iter().filter(|n| valid_name(n)) {
                        addresses(dns, name).await;
                    }
                }
            }
            Mechanism::Exists(spec) => {
                if let Resolved::Name(target) = resolve(Some(spec), ctx) {
                    let _ = dns.lookup(&target, RecordType::A).await;
                }
            }
            Mechanism::Ptr(_) | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
        }
    }
    // RFC 7208 §6.1: redirect is ignored when the record has "all".
    if !record.has_all()
        && let Some(spec) = record.redirect()
        && let Resolved::Name(target) = resolve(Some(spec), ctx)
    {
        queue.push_back((target, Via::Redirect));
    }
    // §6.2: only the explanation of the record that failed is used, and an
    // included record's "fail" never reaches the including one.
    if via != Via::Include
        && let Some(spec) = record.exp()
        && let Resolved::Name(target) = resolve(Some(spec), ctx)
    {
        let _ = dns.lookup(&target, RecordType::Txt).await;
    }
}

async fn addresses<L: Lookup>(dns: &Memo<'_, L>, name: &str) {
    let _ = dns.lookup(name, RecordType::A).await;
    let _ = dns.lookup(name, RecordType::Aaaa).await;
}
