//! Received-SPF (RFC 7208 §9.1) and Authentication-Results (RFC 8601) header
//! fields built from an [`Evaluation`].
//!
//! Both always name the identity that was checked (`identity=mailfrom` /
//! `identity=helo`, `smtp.mailfrom` / `smtp.helo`): a HELO result must never
//! pass for a MAIL FROM result. Everything that came from the sender or from
//! DNS is emitted as a dot-atom when it is one and as an escaped
//! quoted-string otherwise; control characters (CR and LF included) and
//! non-ASCII characters are replaced by `?`, so no input can start a new
//! header line, a new key, or end a comment early.

use crate::eval::{Evaluation, Identity, SpfResult};

/// The `Received-SPF:` header field (name included, no trailing CRLF,
/// unfolded), e.g.
///
/// ```text
/// Received-SPF: pass (mx.example.org: domain of alice@example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=alice@example.com; helo=mail.example.com; receiver=mx.example.org; identity=mailfrom; mechanism="ip4:192.0.2.0/24"
/// ```
pub fn received_spf(eval: &Evaluation, receiver: Option<&str>) -> String {
    let mut out = String::from("Received-SPF: ");
    out.push_str(eval.result.as_str());
    out.push_str(" (");
    push_comment(&mut out, &comment(eval, receiver));
    out.push(')');
    let mut pairs: Vec<(&str, String)> = vec![("client-ip", eval.ip.to_string())];
    pairs.push(("envelope-from", eval.sender.clone()));
    if let Some(helo) = &eval.helo {
        pairs.push(("helo", helo.clone()));
    }
    if let Some(receiver) = receiver {
        pairs.push(("receiver", receiver.to_string()));
    }
    pairs.push(("identity", eval.identity.as_str().to_string()));
    if let Some(m) = &eval.matched {
        pairs.push(("mechanism", m.term.to_string()));
    }
    if matches!(eval.result, SpfResult::PermError | SpfResult::TempError)
        && let Some(reason) = &eval.reason
    {
        pairs.push(("problem", reason.to_string()));
    }
    for (i, (key, value)) in pairs.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { "; " });
        out.push_str(key);
        out.push('=');
        push_value(&mut out, value);
    }
    out
}

/// The human-readable comment of Received-SPF.
fn comment(eval: &Evaluation, receiver: Option<&str>) -> String {
    let who = match eval.identity {
        Identity::MailFrom => format!("domain of {}", eval.sender),
        Identity::Helo => format!("HELO {}", eval.helo.as_deref().unwrap_or(&eval.domain)),
    };
    let ip = eval.ip;
    let text = match eval.result {
        SpfResult::Pass => format!("{who} designates {ip} as permitted sender"),
        SpfResult::Fail => format!("{who} does not designate {ip} as permitted sender"),
        SpfResult::SoftFail => format!("{who} discourages use of {ip} as permitted sender"),
        SpfResult::Neutral => format!("{ip} is neither permitted nor denied by {who}"),
        SpfResult::None => format!("{who} does not publish an SPF record usable for {ip}"),
        SpfResult::TempError => format!("{who}: temporary error checking {ip}"),
        SpfResult::PermError => format!("{who}: permanent error in its SPF record"),
    };
    match receiver {
        Some(r) => format!("{r}: {text}"),
        None => text,
    }
}

/// The `spf` method entry of Authentication-Results (RFC 8601 §2.7.2), e.g.
/// `spf=pass smtp.mailfrom=alice@example.com`. For `permerror` and
/// `temperror` a `reason="..."` names the problem.
pub fn authentication_results_spf(eval: &Evaluation) -> String {
    let mut out = format!("spf={}", eval.result.as_str());
    if matches!(eval.result, SpfResult::PermError | SpfResult::TempError)
        && let Some(reason) = &eval.reason
    {
        out.push_str(" reason=");
        push_quoted(&mut out, &reason.to_string());
    }
    match eval.identity {
        Identity::MailFrom => {
            out.push_str(" smtp.mailfrom=");
            push_value(&mut out, &eval.sender);
        }
        Identity::Helo => {
            out.push_str(" smtp.helo=");
            push_value(&mut out, eval.helo.as_deref().unwrap_or(&eval.domain));
        }
    }
    out
}

/// A whole `Authentication-Results:` field: `Authentication-Results:
/// <authserv-id>; <spf entry>`.
pub fn authentication_results(eval: &Evaluation, authserv_id: &str) -> String {
    let mut out = String::from("Authentication-Results: ");
    push_value(&mut out, authserv_id);
    out.push_str("; ");
    out.push_str(&authentication_results_spf(eval));
    out
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Whether `text` is an RFC 5322 dot-atom, with room for an `@`: a local
/// part and a domain of dot-atoms. `=` and `;` never pass (they would read
/// as key syntax in some parsers).
fn is_safe_token(text: &str) -> bool {
    let atom = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| !part.is_empty() && part.chars().all(|c| is_atext(c) && c != '='))
    };
    match text.split_once('@') {
        Some((local, domain)) => atom(local) && atom(domain),
        None => atom(text),
    }
}

/// Emits a value as itself when it is a dot-atom, else as a quoted-string.
fn push_value(out: &mut String, value: &str) {
    if is_safe_token(value) {
        out.push_str(value);
    } else {
        push_quoted(out, value);
    }
}

/// An RFC 5322 quoted-string: `"` and `\` escaped, non-printable and
/// non-ASCII characters replaced by `?`.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

/// Comment text: only letters, digits, spaces and `.-_@:+/~!#$%&'*?^{|}`
/// pass; anything else (parentheses, `\`, `;`, `=`, quotes, controls,
/// non-ASCII) becomes `?`, so a hostile sender cannot close the comment or
/// plant text that a naive filter would read as a key (`identity=helo`).
fn push_comment(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || " .-_@:+/~!#$%&'*?^{|}".contains(c) {
            out.push(c);
        } else {
            out.push('?');
        }
    }
}
