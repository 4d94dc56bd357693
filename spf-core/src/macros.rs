//! Macro-strings (RFC 7208 §7): parsed once into parts, expanded per check.
//!
//! Addresses are written by hand ([`write_ipv4`], the nibbles of
//! [`write_dotted_ip`]) rather than through `fmt`: every `fail` expands an
//! explanation naming the client (`%{c}`, `%{i}`), and `fmt`'s machinery
//! took a third of a compiled `fail` check's time (measured with `perf` on
//! the `warm_check/miss_to_all` bench). The text is the same; tests compare
//! it with `Display` for every octet value.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

/// A macro letter (§7.2). `c`, `r` and `t` are allowed only in explanation
/// text (§7.2: "only allowed in "exp" text").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacroLetter {
    /// `s`: `<sender>`.
    Sender,
    /// `l`: local-part of `<sender>`.
    Local,
    /// `o`: domain of `<sender>`.
    SenderDomain,
    /// `d`: `<domain>`, the domain being checked.
    Domain,
    /// `i`: `<ip>` (dotted; IPv6 as dot-separated nibbles).
    Ip,
    /// `p`: the validated domain name of `<ip>` (deprecated).
    ValidatedName,
    /// `v`: `in-addr` for IPv4, `ip6` for IPv6.
    IpVersion,
    /// `h`: HELO/EHLO domain.
    Helo,
    /// `c`: SMTP client IP, readable form (exp only).
    ClientIp,
    /// `r`: domain name of the host performing the check (exp only).
    Receiver,
    /// `t`: current timestamp (exp only).
    Timestamp,
}

impl MacroLetter {
    fn from_byte(b: u8) -> Option<MacroLetter> {
        Some(match b.to_ascii_lowercase() {
            b's' => MacroLetter::Sender,
            b'l' => MacroLetter::Local,
            b'o' => MacroLetter::SenderDomain,
            b'd' => MacroLetter::Domain,
            b'i' => MacroLetter::Ip,
            b'p' => MacroLetter::ValidatedName,
            b'v' => MacroLetter::IpVersion,
            b'h' => MacroLetter::Helo,
            b'c' => MacroLetter::ClientIp,
            b'r' => MacroLetter::Receiver,
            b't' => MacroLetter::Timestamp,
            _ => return None,
        })
    }

    /// The letter, lower case.
    pub fn as_char(self) -> char {
        match self {
            MacroLetter::Sender => 's',
            MacroLetter::Local => 'l',
            MacroLetter::SenderDomain => 'o',
            MacroLetter::Domain => 'd',
            MacroLetter::Ip => 'i',
            MacroLetter::ValidatedName => 'p',
            MacroLetter::IpVersion => 'v',
            MacroLetter::Helo => 'h',
            MacroLetter::ClientIp => 'c',
            MacroLetter::Receiver => 'r',
            MacroLetter::Timestamp => 't',
        }
    }

    /// Whether the letter may appear only in explanation text.
    pub fn exp_only(self) -> bool {
        matches!(self, MacroLetter::ClientIp | MacroLetter::Receiver | MacroLetter::Timestamp)
    }
}

/// The delimiters of §7.1, as a bit set in the order `.-+,/_=`.
const DELIMITERS: &[u8; 7] = b".-+,/_=";

/// One `%{...}` expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MacroExpand {
    /// Which value.
    pub letter: MacroLetter,
    /// Written upper case: URL-escape the result (§7.3).
    pub url_escape: bool,
    /// Keep only this many right-hand parts (nonzero; §7.3).
    pub keep: Option<u8>,
    /// Reverse the parts (`r` transformer).
    pub reverse: bool,
    /// Delimiter bit set (bit i = `DELIMITERS[i]`); empty means `.`.
    delimiters: u8,
}

impl MacroExpand {
    fn is_delimiter(&self, b: u8) -> bool {
        if self.delimiters == 0 {
            return b == b'.';
        }
        DELIMITERS.iter().enumerate().any(|(i, &d)| d == b && self.delimiters & (1 << i) != 0)
    }
}

/// A piece of a macro-string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MacroPart {
    /// Literal text.
    Literal(Box<str>),
    /// A macro to expand.
    Expand(MacroExpand),
    /// `%%`, `%_` or `%-`: expands to `%`, a space, or `%20`.
    Escape(u8),
}

/// A parsed macro-string (§7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MacroString {
    parts: Box<[MacroPart]>,
}

/// Where macro-strings appear: explanation text admits `c`, `r`, `t` and spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroContext {
    /// A domain-spec or modifier value in a record.
    Record,
    /// The TXT text an `exp=` points at (§6.2).
    Explanation,
}

/// A malformed macro-string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{kind} at byte {offset} of the macro-string")]
pub struct MacroError {
    /// Byte offset in the macro-string.
    pub offset: usize,
    /// What is wrong.
    pub kind: MacroErrorKind,
}

/// The kinds of macro-string error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MacroErrorKind {
    /// `%` not followed by `{`, `%`, `_` or `-`.
    #[error("'%' must be followed by '{{', '%', '_' or '-'")]
    BarePercent,
    /// `%{` without a closing `}` or with bad characters inside.
    #[error("malformed macro expression")]
    Malformed,
    /// An unknown macro letter.
    #[error("unknown macro letter {0:?}")]
    UnknownLetter(char),
    /// `c`, `r` or `t` outside explanation text.
    #[error("macro letter {0:?} is allowed only in explanation text")]
    ExpOnlyLetter(char),
    /// A digit transformer of zero.
    #[error("digit transformer must be nonzero")]
    ZeroDigits,
    /// A byte that is not a visible ASCII character.
    #[error("byte 0x{0:02x} is not allowed")]
    InvalidByte(u8),
}

impl MacroString {
    /// Parses a macro-string. In [`MacroContext::Explanation`] spaces and the
    /// letters `c`, `r`, `t` are allowed.
    pub fn parse(input: &[u8], context: MacroContext) -> Result<MacroString, MacroError> {
        let mut parts = Vec::new();
        let mut literal_start = 0usize;
        let mut i = 0usize;
        let err = |offset, kind| Err(MacroError { offset, kind });
        let flush = |parts: &mut Vec<MacroPart>, from: usize, to: usize| {
            if to > from {
                // Bytes were checked to be ASCII below, so this cannot fail.
                let text = String::from_utf8_lossy(&input[from..to]);
                parts.push(MacroPart::Literal(text.into()));
            }
        };
        while i < input.len() {
            let b = input[i];
            match b {
                b'%' => {
                    flush(&mut parts, literal_start, i);
                    match input.get(i + 1) {
                        Some(b'%') | Some(b'_') | Some(b'-') => {
                            parts.push(MacroPart::Escape(input[i + 1]));
                            i += 2;
                        }
                        Some(b'{') => {
                            let (expand, next) = parse_expand(input, i, context)?;
                            parts.push(MacroPart::Expand(expand));
                            i = next;
                        }
                        _ => return err(i, MacroErrorKind::BarePercent),
                    }
                    literal_start = i;
                }
                b' ' if context == MacroContext::Explanation => i += 1,
                0x21..=0x7e => i += 1,
                _ => return err(i, MacroErrorKind::InvalidByte(b)),
            }
        }
        flush(&mut parts, literal_start, input.len());
        Ok(MacroString { parts: parts.into_boxed_slice() })
    }

    /// The parts.
    pub fn parts(&self) -> &[MacroPart] {
        &self.parts
    }

    /// Whether the string contains any `%{...}` expansion.
    pub fn has_macros(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, MacroPart::Expand(_)))
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Whether the string uses the given letter.
    pub fn uses(&self, letter: MacroLetter) -> bool {
        self.parts.iter().any(|p| matches!(p, MacroPart::Expand(e) if e.letter == letter))
    }

    /// Whether the last part is a `%{...}` expansion (for `domain-end`, §7.1).
    pub(crate) fn ends_with_expand(&self) -> bool {
        matches!(self.parts.last(), Some(MacroPart::Expand(_)))
    }

    /// The text after the last expansion or escape, if the string ends in a literal.
    pub(crate) fn trailing_literal(&self) -> Option<&str> {
        match self.parts.last() {
            Some(MacroPart::Literal(s)) => Some(s),
            _ => None,
        }
    }

    /// The string when it contains no expansions and no escapes.
    pub(crate) fn as_plain_literal(&self) -> Option<&str> {
        match &*self.parts {
            [MacroPart::Literal(s)] => Some(s),
            _ => None,
        }
    }

    /// Expands a domain-spec into the name to query (§7.3): lower case,
    /// without a trailing dot, shortened from the left by whole labels to at
    /// most [`MAX_DOMAIN_NAME`] octets. Computed from the right: once the
    /// kept suffix is known, the parts further left are never expanded, so
    /// a target of thousands of `%{s}` costs what its last 256 octets cost.
    /// `None` when the check's expansion `budget` runs out (the caller treats
    /// the target like any name that cannot be queried). The result may
    /// still be no valid name (an empty label, a label over 63 octets).
    pub fn expand_domain(&self, vars: &MacroVars<'_>, budget: &mut ExpansionBudget) -> Option<String> {
        // The kept suffix of a name over 253 octets starts after a dot at
        // most 254 octets from its end; with a trailing dot to drop, the
        // last 255 octets decide the result, whatever lies to their left.
        const WINDOW: usize = MAX_DOMAIN_NAME + 2;
        let mut reversed: Vec<u8> = Vec::with_capacity(WINDOW);
        let mut scratch = String::new();
        'parts: for part in self.parts.iter().rev() {
            scratch.clear();
            let read = expand_part(part, vars, &mut scratch);
            if !budget.charge(read + scratch.len()) {
                return None;
            }
            for &b in scratch.as_bytes().iter().rev() {
                if reversed.len() == WINDOW {
                    break 'parts;
                }
                reversed.push(b.to_ascii_lowercase());
            }
        }
        reversed.reverse();
        let mut name = reversed;
        if name.last() == Some(&b'.') {
            name.pop();
        }
        let keep = truncate_domain_bytes(&name);
        // The kept suffix starts after an ASCII dot (or is all of what was
        // built from the start), so it holds whole UTF-8 characters.
        Some(String::from_utf8_lossy(&name[name.len() - keep..]).into_owned())
    }

    /// Expands explanation text (§6.2): left to right, stopping at `max`
    /// octets (at a character boundary) or when the check's expansion
    /// `budget` runs out, whichever comes first; nothing past the stop is
    /// expanded.
    pub fn expand_text(&self, vars: &MacroVars<'_>, max: usize, budget: &mut ExpansionBudget) -> String {
        let mut out = String::with_capacity(128.min(max));
        for part in self.parts.iter() {
            if out.len() >= max {
                break;
            }
            // Expanded in place; taken back if over the budget, cut at the
            // most octets (on a character boundary) if over `max`.
            let start = out.len();
            let read = expand_part(part, vars, &mut out);
            if !budget.charge(read + (out.len() - start)) {
                out.truncate(start);
                break;
            }
            if out.len() > max {
                let mut cut = max;
                while !out.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.truncate(cut);
                break;
            }
        }
        out
    }

    /// Expands the string as explanation text, at most
    /// [`MAX_EXPLANATION`] octets, with a fresh per-check budget.
    pub fn expand(&self, vars: &MacroVars<'_>) -> String {
        self.expand_text(vars, MAX_EXPLANATION, &mut ExpansionBudget::default())
    }
}

/// The longest name expansion produces for a DNS query (RFC 7208 §7.3:
/// "the maximum length of a domain name in this format").
pub const MAX_DOMAIN_NAME: usize = 253;

/// The longest explanation expansion produces: one SMTP reply line of
/// text (RFC 5321 §4.5.3.1.5 allows 512 octets including the reply code).
pub const MAX_EXPLANATION: usize = 512;

/// Expansion work one check may do, in octets: macro values read plus
/// octets produced, over every target and explanation of the check. A
/// legitimate check needs a few kilobytes (10 DNS-querying terms of a few
/// macros over a sender of at most 256 octets, RFC 5321 §4.5.3.1.3, plus
/// 512 octets of explanation); a hostile record of many macros over a long
/// local part stops here instead of costing memory and time.
pub const EXPANSION_BUDGET: usize = 256 * 1024;

/// What is left of a check's expansion work ([`EXPANSION_BUDGET`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpansionBudget {
    left: usize,
}

impl Default for ExpansionBudget {
    fn default() -> Self {
        ExpansionBudget { left: EXPANSION_BUDGET }
    }
}

impl ExpansionBudget {
    /// A budget of `octets`.
    pub fn new(octets: usize) -> ExpansionBudget {
        ExpansionBudget { left: octets }
    }

    /// Octets of work left.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// Whether the budget ran out.
    pub fn exhausted(&self) -> bool {
        self.left == 0
    }

    /// Takes `octets` of work; false (and the budget empty) when there was
    /// not that much left.
    fn charge(&mut self, octets: usize) -> bool {
        match self.left.checked_sub(octets) {
            Some(left) => {
                self.left = left;
                true
            }
            None => {
                self.left = 0;
                false
            }
        }
    }
}

/// Expands one part into `out`; returns the octets of macro values read.
fn expand_part(part: &MacroPart, vars: &MacroVars<'_>, out: &mut String) -> usize {
    match part {
        MacroPart::Literal(s) => {
            out.push_str(s);
            0
        }
        MacroPart::Escape(b'%') => {
            out.push('%');
            0
        }
        MacroPart::Escape(b'_') => {
            out.push(' ');
            0
        }
        MacroPart::Escape(_) => {
            out.push_str("%20");
            0
        }
        MacroPart::Expand(e) => expand_one(e, vars, out),
    }
}

fn parse_expand(
    input: &[u8],
    start: usize,
    context: MacroContext,
) -> Result<(MacroExpand, usize), MacroError> {
    // input[start] == '%', input[start + 1] == '{'
    let mut i = start + 2;
    let err = |offset, kind| Err(MacroError { offset, kind });
    let Some(&letter_byte) = input.get(i) else {
        return err(start, MacroErrorKind::Malformed);
    };
    let Some(letter) = MacroLetter::from_byte(letter_byte) else {
        if letter_byte.is_ascii_alphabetic() {
            return err(i, MacroErrorKind::UnknownLetter(letter_byte as char));
        }
        return err(start, MacroErrorKind::Malformed);
    };
    if letter.exp_only() && context == MacroContext::Record {
        return err(i, MacroErrorKind::ExpOnlyLetter(letter.as_char()));
    }
    let url_escape = letter_byte.is_ascii_uppercase();
    i += 1;
    let digits_start = i;
    let mut keep: u32 = 0;
    while let Some(d) = input.get(i).filter(|b| b.is_ascii_digit()) {
        keep = keep.saturating_mul(10).saturating_add(u32::from(d - b'0'));
        i += 1;
    }
    let keep = if i > digits_start {
        if keep == 0 {
            return err(digits_start, MacroErrorKind::ZeroDigits);
        }
        Some(u8::try_from(keep).unwrap_or(u8::MAX))
    } else {
        None
    };
    let reverse = matches!(input.get(i), Some(b'r' | b'R'));
    if reverse {
        i += 1;
    }
    let mut delimiters = 0u8;
    loop {
        match input.get(i) {
            Some(b'}') => break,
            Some(b) => match DELIMITERS.iter().position(|d| d == b) {
                Some(bit) => delimiters |= 1 << bit,
                None => return err(i, MacroErrorKind::Malformed),
            },
            None => return err(start, MacroErrorKind::Malformed),
        }
        i += 1;
    }
    Ok((MacroExpand { letter, url_escape, keep, reverse, delimiters }, i + 1))
}

/// The values macros expand to for one check (§7.2).
#[derive(Clone, Copy, Debug)]
pub struct MacroVars<'a> {
    /// `<sender>` (`s`).
    pub sender: &'a str,
    /// Its local-part (`l`).
    pub local_part: &'a str,
    /// Its domain (`o`).
    pub sender_domain: &'a str,
    /// The current `<domain>` (`d`).
    pub domain: &'a str,
    /// `<ip>` (`i`, `c`, `v`).
    pub ip: IpAddr,
    /// HELO/EHLO domain (`h`).
    pub helo: &'a str,
    /// The checking host's domain (`r`); `unknown` when not configured.
    pub receiver: &'a str,
    /// Seconds since the epoch (`t`).
    pub timestamp: u64,
    /// The validated domain name of `<ip>` (`p`); `unknown` when none.
    pub validated_name: &'a str,
}

/// Expands one macro into `out`; returns the octets of its value read.
fn expand_one(e: &MacroExpand, vars: &MacroVars<'_>, out: &mut String) -> usize {
    let transformed = e.keep.is_some() || e.reverse || e.delimiters != 0 || e.url_escape;
    let mut scratch = String::new();
    let value: &str = match e.letter {
        MacroLetter::Sender => vars.sender,
        MacroLetter::Local => vars.local_part,
        MacroLetter::SenderDomain => vars.sender_domain,
        MacroLetter::Domain => vars.domain,
        MacroLetter::Helo => vars.helo,
        MacroLetter::Receiver => vars.receiver,
        MacroLetter::ValidatedName => vars.validated_name,
        MacroLetter::IpVersion => match vars.ip {
            IpAddr::V4(_) => "in-addr",
            IpAddr::V6(_) => "ip6",
        },
        // A plain `%{i}`, `%{c}` or `%{t}` (the usual explanation) is
        // written straight into `out`, with no scratch string.
        letter if !transformed => {
            let start = out.len();
            write_computed(letter, vars, out);
            return out.len() - start;
        }
        letter => {
            write_computed(letter, vars, &mut scratch);
            &scratch
        }
    };
    let start = out.len();
    if e.keep.is_none() && !e.reverse && e.delimiters == 0 {
        out.push_str(value);
    } else {
        // §7.3: split on the delimiters, optionally reverse, keep the
        // right-hand `keep` parts, and join with ".".
        let parts_iter = value.split(|c: char| c.is_ascii() && e.is_delimiter(c as u8));
        let mut parts: Vec<&str> = parts_iter.collect();
        if e.reverse {
            parts.reverse();
        }
        let skip = match e.keep {
            Some(k) => parts.len().saturating_sub(usize::from(k)),
            None => 0,
        };
        for (n, p) in parts[skip..].iter().enumerate() {
            if n > 0 {
                out.push('.');
            }
            out.push_str(p);
        }
    }
    if e.url_escape {
        let expanded = out.split_off(start);
        url_escape_into(&expanded, out);
    }
    value.len()
}

/// Writes the value of `i`, `c` or `t`: the macros whose text is made, not
/// read from a string (nothing for another letter).
fn write_computed(letter: MacroLetter, vars: &MacroVars<'_>, out: &mut String) {
    match letter {
        MacroLetter::Ip => write_dotted_ip(vars.ip, out),
        // §7.3: `c` is the "readable" form; RFC 5952 for IPv6.
        MacroLetter::ClientIp => match vars.ip {
            IpAddr::V4(v4) => write_ipv4(v4, out),
            IpAddr::V6(v6) => {
                let _ = write!(out, "{v6}");
            }
        },
        MacroLetter::Timestamp => {
            let _ = write!(out, "{}", vars.timestamp);
        }
        _ => {}
    }
}

/// Writes `<ip>` as the `i` macro has it: dotted quad, or 32 dot-separated
/// nibbles for IPv6 (§7.3, "dot-format").
///
/// The nibbles are upper-case hex. RFC 7208 leaves the case open (the §7.4
/// example happens to be lower case; DNS names compare case-insensitively,
/// so queries are unaffected), and the conformance suite's `v-macro-ip6`
/// case requires upper case where the `i` macro reaches explanation text.
pub fn write_dotted_ip(ip: IpAddr, out: &mut String) {
    match ip {
        IpAddr::V4(v4) => write_ipv4(v4, out),
        IpAddr::V6(v6) => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            for (n, byte) in v6.octets().iter().enumerate() {
                if n > 0 {
                    out.push('.');
                }
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push('.');
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
}

/// Writes an IPv4 address in dotted decimal, as `Display` does (see the
/// module documentation for why by hand).
pub fn write_ipv4(ip: std::net::Ipv4Addr, out: &mut String) {
    let mut text = [0u8; 15];
    let mut len = 0;
    for (n, octet) in ip.octets().into_iter().enumerate() {
        if n > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    // Only ASCII digits and dots were written.
    out.push_str(std::str::from_utf8(&text[..len]).unwrap_or_default());
}

/// URL-escapes (RFC 3986 §2.1) every byte outside the unreserved set.
fn url_escape_into(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Shortens an expanded domain name longer than 253 characters by removing
/// whole labels from the left (§7.3). Returns the kept suffix.
pub fn truncate_domain(name: &str) -> &str {
    &name[name.len() - truncate_domain_bytes(name.as_bytes())..]
}

/// The length of the suffix [`truncate_domain`] keeps.
fn truncate_domain_bytes(name: &[u8]) -> usize {
    let mut rest = name;
    while rest.len() > MAX_DOMAIN_NAME {
        match rest.iter().position(|&b| b == b'.') {
            Some(dot) => rest = &rest[dot + 1..],
            None => return 0,
        }
    }
    rest.len()
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in self.parts.iter() {
            match part {
                MacroPart::Literal(s) => f.write_str(s)?,
                MacroPart::Escape(b) => write!(f, "%{}", *b as char)?,
                MacroPart::Expand(e) => {
                    let letter = e.letter.as_char();
                    let letter = if e.url_escape { letter.to_ascii_uppercase() } else { letter };
                    write!(f, "%{{{letter}")?;
                    if let Some(k) = e.keep {
                        write!(f, "{k}")?;
                    }
                    if e.reverse {
                        f.write_char('r')?;
                    }
                    for (i, d) in DELIMITERS.iter().enumerate() {
                        if e.delimiters & (1 << i) != 0 {
                            f.write_char(*d as char)?;
                        }
                    }
                    f.write_char('}')?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(ip: &str) -> MacroVars<'static> {
        MacroVars {
            sender: "strong-bad@email.example.com",
            local_part: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().expect("ip"),
            helo: "mx.example.org",
            receiver: "receiver.example.net",
            timestamp: 1_700_000_000,
            validated_name: "unknown",
        }
    }

    fn x(s: &str, ip: &str) -> String {
        MacroString::parse(s.as_bytes(), MacroContext::Explanation).expect("parses").expand(&vars(ip))
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for octet in 0..=255u8 {
            for ip in [[octet, 0, 9, 255], [10, octet, 100, 1], [255, 99, octet, 0], [1, 2, 3, octet]] {
                let ip = std::net::Ipv4Addr::from(ip);
                let mut text = String::new();
                write_ipv4(ip, &mut text);
                assert_eq!(text, ip.to_string());
                assert_eq!(x("%{c} %{i}", &ip.to_string()), format!("{ip} {ip}"));
            }
        }
        let mut dotted = String::new();
        write_dotted_ip("2001:db8::cb01".parse().expect("ip"), &mut dotted);
        assert_eq!(dotted, "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1");
    }

    #[test]
    fn explanation_text_is_cut_at_its_bound_on_a_character_boundary() {
        // An SMTPUTF8 local-part of 600 two-octet characters after one
        // octet of text: 512 would split a character.
        let local = "é".repeat(600);
        let vars = MacroVars { local_part: &local, ..vars("192.0.2.3") };
        let text = MacroString::parse(b"x%{l}", MacroContext::Explanation).expect("parses").expand(&vars);
        assert_eq!(text.len(), MAX_EXPLANATION - 1);
        assert_eq!(text, format!("x{}", "é".repeat(255)));
    }

    // The examples of RFC 7208 §7.4.
    #[test]
    fn rfc_examples_ipv4() {
        let ip = "192.0.2.3";
        assert_eq!(x("%{s}", ip), "strong-bad@email.example.com");
        assert_eq!(x("%{o}", ip), "email.example.com");
        assert_eq!(x("%{d}", ip), "email.example.com");
        assert_eq!(x("%{d4}", ip), "email.example.com");
        assert_eq!(x("%{d3}", ip), "email.example.com");
        assert_eq!(x("%{d2}", ip), "example.com");
        assert_eq!(x("%{d1}", ip), "com");
        assert_eq!(x("%{dr}", ip), "com.example.email");
        assert_eq!(x("%{d2r}", ip), "example.email");
        assert_eq!(x("%{l}", ip), "strong-bad");
        assert_eq!(x("%{l-}", ip), "strong.bad");
        assert_eq!(x("%{lr}", ip), "strong-bad");
        assert_eq!(x("%{lr-}", ip), "bad.strong");
        assert_eq!(x("%{l1r-}", ip), "strong");
        assert_eq!(x("%{ir}.%{v}._spf.%{d2}", ip), "3.2.0.192.in-addr._spf.example.com");
        assert_eq!(x("%{lr-}.lp._spf.%{d2}", ip), "bad.strong.lp._spf.example.com");
        assert_eq!(
            x("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", ip),
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(x("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", ip), "3.2.0.192.in-addr.strong.lp._spf.example.com");
        assert_eq!(x("%{d2}.trusted-domains.example.net", ip), "example.com.trusted-domains.example.net");
    }

    #[test]
    fn rfc_examples_ipv6() {
        // The RFC's example is lower case; see `write_dotted_ip` for why
        // the nibbles are upper case here.
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01").to_ascii_lowercase(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
        assert_eq!(x("%{c}", "2001:db8::cb01"), "2001:db8::cb01");
    }

    #[test]
    fn escapes_and_url_escaping() {
        assert_eq!(x("%%%_%-", "192.0.2.3"), "% %20");
        assert_eq!(x("%{L}", "192.0.2.3"), "strong-bad");
        assert_eq!(x("%{S}", "192.0.2.3"), "strong-bad%40email.example.com");
    }

    #[test]
    fn errors() {
        let bad = |s: &str, ctx| MacroString::parse(s.as_bytes(), ctx).expect_err(s).kind;
        assert_eq!(bad("a%b", MacroContext::Record), MacroErrorKind::BarePercent);
        assert_eq!(bad("%", MacroContext::Record), MacroErrorKind::BarePercent);
        assert_eq!(bad("%{d", MacroContext::Record), MacroErrorKind::Malformed);
        assert_eq!(bad("%{x}", MacroContext::Record), MacroErrorKind::UnknownLetter('x'));
        assert_eq!(bad("%{c}", MacroContext::Record), MacroErrorKind::ExpOnlyLetter('c'));
        assert_eq!(bad("%{d0}", MacroContext::Record), MacroErrorKind::ZeroDigits);
        assert_eq!(bad("a b", MacroContext::Record), MacroErrorKind::InvalidByte(b' '));
        assert!(MacroString::parse(b"%{c} %{r} %{t}", MacroContext::Explanation).is_ok());
    }

    #[test]
    fn display_round_trips() {
        for s in ["%{d2r-.}x", "%{L}.%{ir}%%%_%-a", "%{h999}", "plain"] {
            let m = MacroString::parse(s.as_bytes(), MacroContext::Record).expect(s);
            let again = MacroString::parse(m.to_string().as_bytes(), MacroContext::Record).expect(s);
            assert_eq!(m, again);
        }
    }

    #[test]
    fn truncation_removes_whole_labels() {
        let long = format!("{}.{}", "a".repeat(200), "b".repeat(60));
        assert_eq!(truncate_domain(&long), "b".repeat(60));
        assert_eq!(truncate_domain("short.example"), "short.example");
    }
}
