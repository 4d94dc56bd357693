//! The explanation of a `fail` (RFC 7208 §6.2): the `exp=` text, expanded
//! within [`MAX_EXPLANATION`](crate::macros::MAX_EXPLANATION) octets, or the
//! configured default.

use std::sync::Arc;

use super::check_host::{Name, Run};
use super::trace::{ExplanationStep, Step};
use crate::dns::{Answer, Lookup, LookupError, RecordType, Records};
use crate::macros::{MacroContext, MacroLetter, MacroString};
use crate::record::{DomainSpec, Record};

impl<L: Lookup> Run<'_, L> {
    /// §6.2: the explanation for a `fail`.
    pub(super) async fn explanation(
        &mut self,
        exp_from: Option<&(Arc<Record>, Arc<str>)>,
        top_domain: &Arc<str>,
    ) -> String {
        let domain = exp_from.map_or_else(|| Arc::clone(top_domain), |(_, d)| Arc::clone(d));
        let depth = 0;
        if let Some(spec) = exp_from.and_then(|(record, _)| record.exp()) {
            match self.exp_text(spec, &domain, depth).await {
                Ok(text) => {
                    if self.tracing() {
                        let detail = ExplanationStep::Text(text.clone());
                        self.trace.push(Step::Explanation { domain: Arc::clone(&domain), detail });
                    }
                    return text;
                }
                Err(why) => {
                    if self.tracing() {
                        let detail = ExplanationStep::Ignored(why);
                        self.trace.push(Step::Explanation { domain: Arc::clone(&domain), detail });
                    }
                }
            }
        }
        let ev = self.ev;
        let default = &ev.options().default_explanation;
        if default.uses(MacroLetter::ValidatedName) {
            Box::pin(self.compute_validated_name(&domain, depth)).await;
        }
        self.expand_explanation(default, &domain)
    }

    pub(super) async fn exp_text(
        &mut self,
        spec: &DomainSpec,
        domain: &str,
        depth: u32,
    ) -> Result<String, &'static str> {
        let name = self.target(spec, domain, depth).await.ok_or("invalid target name")?;
        let txt = match self.query(Name::Shared(&name), RecordType::Txt, depth).await {
            Ok(Answer { records: Records::Txt(txt), .. }) => txt,
            Ok(_) | Err(LookupError::NxDomain { .. }) | Err(LookupError::NoData { .. }) => {
                return Err("no TXT record");
            }
            Err(LookupError::Temporary(_)) => return Err("DNS error"),
        };
        // "If there are any DNS processing errors (any RCODE other than 0),
        // or if no records are returned, or if more than one record is
        // returned, or if there are syntax errors in the explanation string,
        // then proceed as if no "exp" modifier was given."
        let mut records = txt.joined();
        let (Some(text), None) = (records.next(), records.next()) else {
            return Err("more than one TXT record");
        };
        let parsed = MacroString::parse(&text, MacroContext::Explanation).map_err(|_| "syntax error")?;
        if parsed.uses(MacroLetter::ValidatedName) {
            Box::pin(self.compute_validated_name(domain, depth)).await;
        }
        let expanded = self.expand_explanation(&parsed, domain);
        if !expanded.bytes().all(|b| b == b' ' || (0x21..=0x7e).contains(&b)) {
            return Err("not 7-bit ASCII");
        }
        Ok(expanded)
    }
}
