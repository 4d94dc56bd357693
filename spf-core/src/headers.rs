//! Received-SPF (RFC 7208 §9.1) and Authentication-Results (RFC 8601) header
//! fields built from an [`Evaluation`].
//!
//! Both always name the identity that was checked (`identity=mailfrom` /
//! `identity=helo`, `smtp.mailfrom` / `smtp.helo`): a HELO result must never
//! pass for a MAIL FROM result.
//!
//! When local policy acted on the result ([`Evaluation::policy_note`], see
//! [`crate::policy`]), both name it: Received-SPF with a last
//! `policy="..."` key (RFC 7208 §9.1 allows further keys) and, for a client
//! that was not checked, a comment saying why instead of a domain's
//! designation; Authentication-Results with a comment after the entry. The
//! result they carry is the evaluation's (a wide-open pass: `neutral`).
//!
//! # What a sender controls, and how it is kept in its place
//!
//! The envelope sender, the HELO name and every record (hence every problem
//! text) come from strangers. They reach the fields in three places:
//!
//! * **Values** (`envelope-from=`, `helo=`, `mechanism=`, `smtp.mailfrom=`,
//!   ...) are emitted as a dot-atom when they are one (`=` excluded, see
//!   below) and as a quoted-string otherwise: `"` and `\` become quoted-pairs,
//!   control and non-ASCII characters become `?`.
//! * **The comment** of Received-SPF keeps every character RFC 5322 allows in
//!   a comment (`ctext`, %d33-39 / %d42-91 / %d93-126, and spaces), so
//!   `HELO [127.0.0.1]` reads as sent, except:
//!   * `\` becomes the quoted-pair `\\` (it is not `ctext`; a quoted-pair
//!     keeps it and cannot end the comment);
//!   * `(` and `)` become `?`: a quoted-pair `\)` would be correct, but a
//!     parser that counts parentheses without honouring quoted-pairs would
//!     end the comment there and read what follows as keys;
//!   * `=`, `;` and `"` become `?`, although RFC 5322 allows them in a
//!     comment: many Received-SPF readers split the field at `;` and `=`
//!     without removing comments first, and would read a sender such as
//!     `identity=helo@evil.example` as the key `identity`, or take a `"` as
//!     the start of a quoted-string that swallows the real keys. The exact
//!     sender is in `envelope-from=`, quoted, so nothing is lost;
//!   * control characters (CR and LF included), DEL and non-ASCII characters
//!     become `?`.
//! * **Problem texts** (`problem=`, `reason=`) are quoted-strings.
//!
//! No input can therefore start a new header line, a new key, or end the
//! comment early.
//!
//! # Bounds and folding
//!
//! Every sender-controlled text is cut before it is emitted, at a character
//! boundary, ending in `...`: values and the names in the comment at
//! [`MAX_VALUE_OCTETS`], `problem=`/`reason=` at [`MAX_PROBLEM_OCTETS`] (the
//! problem text is written into a buffer that stops at its bound, so a 60 KB
//! unknown term never becomes a 60 KB string). Fields are then folded (RFC
//! 5322 §2.2.3) at the whitespace between the result, the comment's words and
//! the `key=value` pairs, so that lines stay within [`FOLD_WIDTH`] octets
//! wherever a fold point allows it and always within [`MAX_LINE_OCTETS`]
//! (RFC 5322 §2.1.1).
//!
//! A fold is a line feed (`\n`, LF) inserted before an existing space; the
//! field text ends without a line break. LF, not CRLF, because the callers
//! hand the field to programs that add the CR themselves: libmilter's
//! `smfi_insheader` asks for LF-folded values ("the MTA will add the CR"),
//! Python's and Perl's mail libraries and the `fastspf` command's output
//! work in LF. A caller writing the field into SMTP `DATA` itself converts
//! every LF into CRLF, as it does for the rest of the message. Removing every
//! `\n` unfolds the field into exactly the text it folded.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use crate::eval::{Evaluation, Identity, PolicyNote, SpfResult};

/// The most octets of a value (`envelope-from=`, `helo=`, `receiver=`,
/// `mechanism=`, `smtp.mailfrom=`, the authserv-id) or of a name in the
/// comment, before quoting. RFC 5321 §4.5.3.1.3 bounds a reverse-path at 256
/// octets and §4.5.3.1.2 a domain at 255, so nothing a conforming client
/// sends is cut; longer values end in `...`.
pub const MAX_VALUE_OCTETS: usize = 256;

/// The most octets of a `problem=` (Received-SPF) or `reason=`
/// (Authentication-Results) text, before quoting: enough to name any RFC
/// 7208 problem with its term and domain; longer texts (a record's 60 KB
/// unknown term) end in `...`.
pub const MAX_PROBLEM_OCTETS: usize = 256;

/// Lines are folded to at most this many octets where a fold point allows
/// (RFC 5322 §2.1.1: "SHOULD be no more than 78 characters").
pub const FOLD_WIDTH: usize = 78;

/// No line is ever longer than this many octets (RFC 5322 §2.1.1: "MUST be
/// no more than 998 characters"). The bounds above guarantee it: the longest
/// unbreakable piece is a quoted value of [`MAX_VALUE_OCTETS`] or
/// [`MAX_PROBLEM_OCTETS`] octets, each doubled at most by quoting, with its
/// key.
pub const MAX_LINE_OCTETS: usize = 998;

/// What marks a cut text.
const ELLIPSIS: &str = "...";

/// The `Received-SPF:` header field (name included, no trailing line
/// break, folded with LF as the module documentation says), e.g.
///
/// ```text
/// Received-SPF: pass (mx.example.org: domain of alice@example.com designates
///  192.0.2.1 as permitted sender) client-ip=192.0.2.1;
///  envelope-from=alice@example.com; helo=mail.example.com;
///  receiver=mx.example.org; identity=mailfrom; mechanism="ip4:192.0.2.0/24"
/// ```
pub fn received_spf(eval: &Evaluation, receiver: Option<&str>) -> String {
    let mut segments: Vec<String> = vec![format!("Received-SPF: {}", eval.result.as_str())];
    // The comment, one segment per word so that it folds between words.
    let mut comment = String::new();
    push_comment(&mut comment, eval, receiver);
    let mut words = comment.split(' ').filter(|w| !w.is_empty());
    if let Some(first) = words.next() {
        segments.push(format!(" ({first}"));
        segments.extend(words.map(|w| format!(" {w}")));
        if let Some(last) = segments.last_mut() {
            last.push(')');
        }
    }
    let mut pairs: Vec<(&str, String)> = vec![("client-ip", eval.ip.to_string())];
    pairs.push(("envelope-from", value(&eval.sender)));
    if let Some(helo) = &eval.helo {
        pairs.push(("helo", value(helo)));
    }
    if let Some(receiver) = receiver {
        pairs.push(("receiver", value(receiver)));
    }
    pairs.push(("identity", eval.identity.as_str().to_string()));
    if let Some(m) = &eval.matched {
        pairs.push(("mechanism", value(&m.term)));
    }
    if let Some(problem) = problem(eval) {
        pairs.push(("problem", problem));
    }
    if let Some(note) = note_text(eval) {
        let mut quoted = String::new();
        push_quoted(&mut quoted, &note);
        pairs.push(("policy", quoted));
    }
    let count = pairs.len();
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        let end = if i + 1 < count { ";" } else { "" };
        segments.push(format!(" {key}={value}{end}"));
    }
    fold(&segments)
}

/// The human-readable comment of Received-SPF, without its parentheses.
fn push_comment(out: &mut String, eval: &Evaluation, receiver: Option<&str>) {
    if let Some(r) = receiver {
        push_comment_text(out, bounded(r, MAX_VALUE_OCTETS).as_ref());
        out.push_str(": ");
    }
    // A client local policy exempted was not checked: the usual words
    // ("domain of ... designates ...") would claim a domain's policy.
    if let Some(PolicyNote::Exempt { exemption }) = eval.policy_note() {
        let mut text = Bounded::new(MAX_PROBLEM_OCTETS);
        // A `fmt::Error` here only means the text reached its bound.
        let _ = write!(text, "{exemption}");
        push_comment_text(out, &text.finish());
        return;
    }
    let who = |out: &mut String| match eval.identity {
        Identity::MailFrom => {
            out.push_str("domain of ");
            push_comment_text(out, bounded(&eval.sender, MAX_VALUE_OCTETS).as_ref());
        }
        Identity::Helo => {
            out.push_str("HELO ");
            let helo = eval.helo.as_deref().unwrap_or(&eval.domain);
            push_comment_text(out, bounded(helo, MAX_VALUE_OCTETS).as_ref());
        }
    };
    let ip = eval.ip;
    // Writing into a String cannot fail.
    let _ = match eval.result {
        SpfResult::Pass => {
            who(out);
            let _ = write!(out, " designates {ip} as permitted sender");
            // The pass says nothing about the client: the policy passes
            // (at least) a /8 of IPv4 or a /16 of IPv6.
            if eval.wide_open {
                out.push_str(", wide-open policy");
            }
            Ok(())
        }
        SpfResult::Fail => {
            who(out);
            write!(out, " does not designate {ip} as permitted sender")
        }
        SpfResult::SoftFail => {
            who(out);
            write!(out, " discourages use of {ip} as permitted sender")
        }
        SpfResult::Neutral => {
            let _ = write!(out, "{ip} is neither permitted nor denied by ");
            who(out);
            Ok(())
        }
        SpfResult::None => {
            who(out);
            write!(out, " does not publish an SPF record usable for {ip}")
        }
        SpfResult::TempError => {
            who(out);
            write!(out, ": temporary error checking {ip}")
        }
        SpfResult::PermError => {
            who(out);
            out.push_str(": permanent error in its SPF record");
            Ok(())
        }
    };
}

/// The problem of a `permerror` or `temperror`, bounded and quoted.
fn problem(eval: &Evaluation) -> Option<String> {
    if !matches!(eval.result, SpfResult::PermError | SpfResult::TempError) {
        return None;
    }
    let reason = eval.reason.as_ref()?;
    let mut text = Bounded::new(MAX_PROBLEM_OCTETS);
    // A `fmt::Error` here only means the text reached its bound.
    let _ = write!(text, "{reason}");
    let mut out = String::new();
    push_quoted(&mut out, &text.finish());
    Some(out)
}

/// What local policy did ([`Evaluation::policy_note`]), bounded at
/// [`MAX_PROBLEM_OCTETS`]: Received-SPF's `policy="..."` and a comment at the
/// end of the Authentication-Results entry. The note names domains from
/// local configuration and the checked domain, so it is bounded and quoted
/// like any text from outside.
fn note_text(eval: &Evaluation) -> Option<String> {
    let note = eval.policy_note()?;
    let mut text = Bounded::new(MAX_PROBLEM_OCTETS);
    // A `fmt::Error` here only means the text reached its bound.
    let _ = write!(text, "{note}");
    Some(text.finish())
}

/// The `spf` method entry of Authentication-Results (RFC 8601 §2.7.2), e.g.
/// `spf=pass smtp.mailfrom=alice@example.com`. For `permerror` and
/// `temperror` a `reason="..."` names the problem. Folded with LF before
/// `reason=` and the property when the entry is long, as if it began a
/// continuation line (after `Authentication-Results: <authserv-id>;` and a
/// fold); see [`authentication_results`] for the whole field.
pub fn authentication_results_spf(eval: &Evaluation) -> String {
    fold(&spf_entry(eval))
}

/// The segments of the `spf` entry: the method and result, the reason, the
/// property (each after the first starting with the space a fold may go
/// before).
fn spf_entry(eval: &Evaluation) -> Vec<String> {
    let mut segments = vec![format!("spf={}", eval.result.as_str())];
    if let Some(problem) = problem(eval) {
        segments.push(format!(" reason={problem}"));
    }
    segments.push(match eval.identity {
        Identity::MailFrom => format!(" smtp.mailfrom={}", value(&eval.sender)),
        Identity::Helo => format!(" smtp.helo={}", value(eval.helo.as_deref().unwrap_or(&eval.domain))),
    });
    // What local policy did, as a comment (RFC 8601 §2.2 allows CFWS
    // here), one segment per word so that it folds between words.
    if let Some(note) = note_text(eval) {
        let mut comment = String::new();
        push_comment_text(&mut comment, &note);
        let start = segments.len();
        segments.extend(comment.split(' ').filter(|w| !w.is_empty()).map(|w| format!(" {w}")));
        if segments.len() > start {
            segments[start].insert(1, '(');
            if let Some(last) = segments.last_mut() {
                last.push(')');
            }
        }
    }
    segments
}

/// A whole `Authentication-Results:` field: `Authentication-Results:
/// <authserv-id>; <spf entry>`, folded with LF (see the module
/// documentation).
pub fn authentication_results(eval: &Evaluation, authserv_id: &str) -> String {
    let mut segments = vec![format!("Authentication-Results: {};", value(authserv_id))];
    let mut entry = spf_entry(eval);
    entry[0].insert(0, ' ');
    segments.extend(entry);
    fold(&segments)
}

/// Joins `segments`, inserting a line feed before a segment's leading space
/// when the line would otherwise pass [`FOLD_WIDTH`] octets.
fn fold(segments: &[String]) -> String {
    let mut out = String::with_capacity(segments.iter().map(|s| s.len() + 1).sum());
    let mut column = 0;
    for segment in segments {
        if column > 0 && column + segment.len() > FOLD_WIDTH && segment.starts_with(' ') {
            out.push('\n');
            column = 0;
        }
        out.push_str(segment);
        column += segment.len();
    }
    out
}

/// `text`, or its first octets ending in [`ELLIPSIS`] when it is longer
/// than `limit` octets (cut at a character boundary).
fn bounded(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let cut = text.floor_char_boundary(limit - ELLIPSIS.len());
    Cow::Owned(format!("{}{ELLIPSIS}", &text[..cut]))
}

/// A `fmt::Write` buffer that keeps at most `limit` octets and refuses the
/// rest (so a long `Display` stops early); [`Bounded::finish`] marks a cut
/// text with [`ELLIPSIS`].
struct Bounded {
    text: String,
    limit: usize,
    cut: bool,
}

impl Bounded {
    fn new(limit: usize) -> Bounded {
        Bounded { text: String::new(), limit, cut: false }
    }

    fn finish(mut self) -> String {
        if self.cut {
            let keep = self.text.floor_char_boundary(self.limit - ELLIPSIS.len());
            self.text.truncate(keep);
            self.text.push_str(ELLIPSIS);
        }
        self.text
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Err(fmt::Error);
        }
        let room = self.limit - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        self.text.push_str(&s[..s.floor_char_boundary(room)]);
        self.cut = true;
        Err(fmt::Error)
    }
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

/// A value, bounded at [`MAX_VALUE_OCTETS`]: itself when it is a dot-atom,
/// else a quoted-string.
fn value(text: &str) -> String {
    let text = bounded(text, MAX_VALUE_OCTETS);
    if is_safe_token(&text) {
        text.into_owned()
    } else {
        let mut out = String::with_capacity(text.len() + 2);
        push_quoted(&mut out, &text);
        out
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

/// Comment text: RFC 5322 `ctext` and spaces pass, `\` becomes a
/// quoted-pair, and `(`, `)`, `"`, `;`, `=`, controls and non-ASCII become
/// `?` (the module documentation says why).
fn push_comment_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '(' | ')' | '"' | ';' | '=' => out.push('?'),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
}

/// A folded field as one line (RFC 5322 §2.2.3: "unfolding is accomplished
/// by simply removing any CRLF that is immediately followed by WSP"), for
/// protocols that carry a header on one line, such as a Postfix policy
/// service's `PREPEND` action. Every line break is removed, folded or not.
pub fn unfold(field: &str) -> String {
    field.chars().filter(|&c| c != '\n' && c != '\r').collect()
}
