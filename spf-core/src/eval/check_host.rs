//! The check_host() function of RFC 7208 §4.

use std::net::IpAddr;

use crate::dns::Lookup;
use crate::eval::{Evaluation, Limits};
use crate::macros::MacroString;

/// Which identity a check is about (RFC 7208 §2.3, §2.4).
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

/// Options for evaluation.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Processing limits (§4.6.4). Default: the RFC's.
    pub limits: Limits,
    /// The checking host's domain: the `%{r}` macro and Received-SPF's
    /// `receiver=`. Default none (`%{r}` expands to `unknown`).
    pub receiver: Option<String>,
    /// The explanation used on `fail` when no `exp=` applies (§6.2).
    pub default_explanation: MacroString,
    /// Record a trace of every step. Default on.
    pub trace: bool,
    /// Fixed value for the `%{t}` macro; default the current time.
    pub timestamp: Option<u64>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            limits: Limits::default(),
            receiver: None,
            default_explanation: default_explanation(),
            trace: true,
            timestamp: None,
        }
    }
}

/// The default explanation: `%{d} does not designate %{c} as permitted sender`.
pub fn default_explanation() -> MacroString {
    MacroString::parse(
        b"%{d} does not designate %{c} as a permitted sender",
        crate::macros::MacroContext::Explanation,
    )
    .unwrap_or_default()
}

/// Evaluates SPF policies through a [`Lookup`].
#[derive(Debug, Clone)]
pub struct Evaluator<L> {
    lookup: L,
    options: CheckOptions,
}

impl<L: Lookup> Evaluator<L> {
    /// An evaluator over `lookup` with `options`.
    pub fn new(lookup: L, options: CheckOptions) -> Self {
        Evaluator { lookup, options }
    }

    /// The lookup implementation.
    pub fn lookup(&self) -> &L {
        &self.lookup
    }

    /// The options.
    pub fn options(&self) -> &CheckOptions {
        &self.options
    }

    /// Checks the MAIL FROM identity (§2.4). An empty `mail_from` is the null
    /// reverse-path: then `postmaster@<helo>` is checked. An address without
    /// a local part (`@example.com`) gets `postmaster` (§4.3).
    pub async fn check_mail_from(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Evaluation {
        let _ = (ip, mail_from, helo);
        unimplemented!()
    }

    /// Checks the HELO identity (§2.3): `<sender>` is `postmaster@<helo>`.
    pub async fn check_helo(&self, ip: IpAddr, helo: &str) -> Evaluation {
        let _ = (ip, helo);
        unimplemented!()
    }

    /// The check_host() function (§4): `<ip>`, `<domain>`, `<sender>`, plus
    /// the HELO name for `%{h}` and the identity for headers.
    pub async fn check_host(
        &self,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
        identity: Identity,
    ) -> Evaluation {
        let _ = (ip, domain, sender, helo, identity);
        unimplemented!()
    }
}
