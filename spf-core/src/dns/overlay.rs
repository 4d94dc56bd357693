//! A draft record served as if published: test a change before making it.

use std::sync::Arc;

use super::{Answer, Lookup, LookupResult, QueryBudget, RecordType, Records, TxtRecords};
use crate::record::{NotSpf, classify, is_spf1};

/// Largest TXT character-string: a draft is served split at this size, as
/// it would have to be published.
const STRING_SIZE: usize = 255;

/// A [`Lookup`] that answers TXT queries for one domain as if a draft SPF
/// record were published there, and passes every other query on.
///
/// The draft replaces the domain's SPF records, and TXT records that look
/// meant as SPF (`v-spf1 ...`, quoted ones); its other TXT records (site
/// verifications and the like) stay, so the answer is the one receivers
/// would get after the change. A draft longer than 255 bytes is served as
/// several strings, as it has to be published.
///
/// ```
/// use spf_core::dns::Zone;
/// use spf_core::dns::Overlay;
/// use spf_core::{CheckOptions, Evaluator, SpfResult};
///
/// let zone = Zone::from_master_str("example.com. 300 TXT \"v=spf1 ip4:192.0.2.1 -all\"\n", "<doc>")?;
/// let draft = Overlay::new(&zone, "example.com", "v=spf1 ip4:198.51.100.7 -all");
/// let evaluator = Evaluator::new(draft, CheckOptions::default());
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// let eval = rt.block_on(evaluator.check_mail_from("198.51.100.7".parse()?, "a@example.com", "h.example"));
/// assert_eq!(eval.result, SpfResult::Pass);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Overlay<L> {
    upstream: L,
    domain: Box<str>,
    record: Box<[u8]>,
}

impl<L: Lookup> Overlay<L> {
    /// Serves `record` as the SPF record of `domain` over `upstream`.
    pub fn new(upstream: L, domain: &str, record: &str) -> Self {
        let domain = domain.trim();
        let domain = domain.strip_suffix('.').unwrap_or(domain).to_ascii_lowercase().into_boxed_str();
        Overlay { upstream, domain, record: record.as_bytes().into() }
    }

    /// The domain the draft is published at (lower case, no trailing dot).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The upstream lookup.
    pub fn upstream(&self) -> &L {
        &self.upstream
    }
}

/// The TXT answer with `draft` published among `others` (each a record's strings).
pub(crate) fn draft_txt(draft: &[u8], others: &[Vec<Vec<u8>>]) -> TxtRecords {
    let strings: Vec<Vec<u8>> = if draft.is_empty() {
        vec![Vec::new()]
    } else {
        draft.chunks(STRING_SIZE).map(<[u8]>::to_vec).collect()
    };
    TxtRecords::new(others.iter().cloned().chain(std::iter::once(strings)))
}

impl<L: Lookup> Lookup for Overlay<L> {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        let plain = name.strip_suffix('.').unwrap_or(name);
        if rtype != RecordType::Txt || !plain.eq_ignore_ascii_case(&self.domain) {
            return self.upstream.lookup(name, rtype).await;
        }
        // The published TXT records minus the SPF record the draft replaces
        // (and any meant as SPF but mistyped); on a failure, the draft alone.
        let (others, ttl) = match self.upstream.lookup(name, rtype).await {
            Ok(Answer { records: Records::Txt(txt), ttl }) => {
                let others: Vec<Vec<Vec<u8>>> = txt
                    .records()
                    .iter()
                    .filter(|strings| {
                        let text = strings.concat();
                        !is_spf1(&text) && matches!(classify(&text), None | Some(NotSpf::SenderId))
                    })
                    .map(|strings| strings.iter().map(|s| s.to_vec()).collect())
                    .collect();
                (others, ttl)
            }
            _ => (Vec::new(), 0),
        };
        Ok(Answer { records: Records::Txt(Arc::new(draft_txt(&self.record, &others))), ttl })
    }

    async fn lookup_charged(&self, name: &str, rtype: RecordType, budget: &QueryBudget) -> LookupResult {
        let plain = name.strip_suffix('.').unwrap_or(name);
        if rtype != RecordType::Txt || !plain.eq_ignore_ascii_case(&self.domain) {
            return self.upstream.lookup_charged(name, rtype, budget).await;
        }
        self.lookup(name, rtype).await
    }
}
