//! Record parser (RFC 7208 §4.6.1 and the ABNF of §12).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{
    Directive, DomainSpec, DualCidr, Mechanism, Modifier, ParseError, ParseErrorKind, Qualifier, Record,
    Span, Term,
};
use crate::macros::{MacroContext, MacroString};

pub(super) fn parse_record(text: &[u8]) -> Result<Record, ParseError> {
    if !super::is_spf1(text) {
        let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
        return Err(error(text, 0, end, ParseErrorKind::NotSpf1));
    }
    // §12: terms are separated by one or more SP, and only SP; every byte of
    // a term is a visible ASCII character. Anything else (NUL, CR, TAB,
    // non-ASCII) is a syntax error where it stands (§4.6: "any syntax errors
    // anywhere in the record MUST be detected").
    if let Some(at) = text.iter().position(|&b| b != b' ' && !(0x21..=0x7e).contains(&b)) {
        let start = text[..at].iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
        let end = text[at..].iter().position(|&b| b == b' ').map_or(text.len(), |p| at + p);
        return Err(error(text, start, end, ParseErrorKind::InvalidByte { byte: text[at] }));
    }

    let mut record = Record {
        terms: Vec::new(),
        spans: Vec::new(),
        redirect: None,
        exp: None,
        has_all: false,
        shown: std::sync::OnceLock::new(),
    };
    let mut pos = 6;
    while pos < text.len() {
        if text[pos] == b' ' {
            pos += 1;
            continue;
        }
        let end = text[pos..].iter().position(|&b| b == b' ').map_or(text.len(), |p| pos + p);
        let term = parse_term(&text[pos..end]).map_err(|kind| error(text, pos, end, kind))?;
        let index = record.terms.len();
        match &term {
            Term::Modifier(Modifier::Redirect(_)) if record.redirect.replace(index).is_some() => {
                let kind = ParseErrorKind::DuplicateModifier { modifier: "redirect" };
                return Err(error(text, pos, end, kind));
            }
            Term::Modifier(Modifier::Exp(_)) if record.exp.replace(index).is_some() => {
                let kind = ParseErrorKind::DuplicateModifier { modifier: "exp" };
                return Err(error(text, pos, end, kind));
            }
            Term::Directive(Directive { mechanism: Mechanism::All, .. }) => record.has_all = true,
            _ => {}
        }
        record.terms.push(term);
        record.spans.push(Span { offset: pos, len: end - pos });
        pos = end;
    }
    Ok(record)
}

fn error(text: &[u8], start: usize, end: usize, kind: ParseErrorKind) -> ParseError {
    ParseError { offset: start, term: String::from_utf8_lossy(&text[start..end]).into_owned(), kind }
}

/// Parses one term (visible ASCII, no spaces).
fn parse_term(term: &[u8]) -> Result<Term, ParseErrorKind> {
    // A modifier is `name "=" ...` with the "=" before any ":" or "/"
    // (a mechanism's argument starts with one of those).
    let eq = term.iter().position(|&b| b == b'=');
    let sep = term.iter().position(|&b| b == b':' || b == b'/');
    if let Some(eq) = eq.filter(|&eq| sep.is_none_or(|s| eq < s)) {
        return parse_modifier(&term[..eq], &term[eq + 1..]).map(Term::Modifier);
    }
    let (qualifier, rest) = match term.first() {
        Some(b'+') => (Qualifier::Pass, &term[1..]),
        Some(b'-') => (Qualifier::Fail, &term[1..]),
        Some(b'~') => (Qualifier::SoftFail, &term[1..]),
        Some(b'?') => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let name_end = rest.iter().position(|&b| b == b':' || b == b'/').unwrap_or(rest.len());
    let (name, arg) = rest.split_at(name_end);
    let mechanism = parse_mechanism(name, arg)?;
    Ok(Term::Directive(Directive { qualifier, mechanism }))
}

fn parse_mechanism(name: &[u8], arg: &[u8]) -> Result<Mechanism, ParseErrorKind> {
    let lower = name.to_ascii_lowercase();
    let invalid = |mechanism| ParseErrorKind::InvalidArgument { mechanism };
    match lower.as_slice() {
        b"all" if arg.is_empty() => Ok(Mechanism::All),
        b"all" => Err(invalid("all")),
        b"include" => Ok(Mechanism::Include(required_domain(arg, "include")?)),
        b"exists" => Ok(Mechanism::Exists(required_domain(arg, "exists")?)),
        b"ptr" => Ok(Mechanism::Ptr(optional_domain(arg, "ptr")?)),
        b"a" | b"mx" => {
            let (rest, cidr) = split_dual_cidr(arg)?;
            let domain = optional_domain(rest, if lower == b"a" { "a" } else { "mx" })?;
            Ok(if lower == b"a" { Mechanism::A { domain, cidr } } else { Mechanism::Mx { domain, cidr } })
        }
        b"ip4" => {
            let (addr, prefix) = ip_network::<Ipv4Addr>(arg, 32).ok_or(invalid("ip4"))??;
            Ok(Mechanism::Ip4 { addr, prefix })
        }
        b"ip6" => {
            let (addr, prefix) = ip_network::<Ipv6Addr>(arg, 128).ok_or(invalid("ip6"))??;
            Ok(Mechanism::Ip6 { addr, prefix })
        }
        _ => Err(ParseErrorKind::UnknownMechanism),
    }
}

/// `":" network [ "/" length ]` of ip4/ip6: `None` without the ":".
fn ip_network<A: std::str::FromStr>(arg: &[u8], max: u8) -> Option<Result<(A, Option<u8>), ParseErrorKind>> {
    let net = arg.strip_prefix(b":")?;
    Some(split_prefix(net, max).and_then(|(addr, prefix)| {
        let addr = std::str::from_utf8(addr)
            .ok()
            .and_then(|s| s.parse::<A>().ok())
            .ok_or(ParseErrorKind::InvalidIp)?;
        Ok((addr, prefix))
    }))
}

/// `":" domain-spec`, required.
fn required_domain(arg: &[u8], mechanism: &'static str) -> Result<DomainSpec, ParseErrorKind> {
    let spec = arg.strip_prefix(b":").ok_or(ParseErrorKind::InvalidArgument { mechanism })?;
    parse_domain_spec(spec)
}

/// `[ ":" domain-spec ]`.
fn optional_domain(arg: &[u8], mechanism: &'static str) -> Result<Option<DomainSpec>, ParseErrorKind> {
    if arg.is_empty() {
        return Ok(None);
    }
    required_domain(arg, mechanism).map(Some)
}

/// Splits `[ ":" domain-spec ] [ "/" ip4-cidr ] [ "//" ip6-cidr ]` from the
/// right: a domain-spec may itself contain "/" (it is a macro-literal).
fn split_dual_cidr(arg: &[u8]) -> Result<(&[u8], DualCidr), ParseErrorKind> {
    let mut rest = arg;
    let mut cidr = DualCidr::default();
    if let Some(at) = find_last(rest, b"//") {
        let digits = &rest[at + 2..];
        if is_digits(digits) {
            cidr.v6 = Some(cidr_value(digits, 128)?);
            rest = &rest[..at];
        }
    }
    if let Some(at) = rest.iter().rposition(|&b| b == b'/') {
        let digits = &rest[at + 1..];
        if is_digits(digits) {
            cidr.v4 = Some(cidr_value(digits, 32)?);
            rest = &rest[..at];
        }
    }
    Ok((rest, cidr))
}

/// Splits `network [ "/" length ]` for ip4/ip6.
fn split_prefix(net: &[u8], max: u8) -> Result<(&[u8], Option<u8>), ParseErrorKind> {
    match net.iter().rposition(|&b| b == b'/') {
        Some(at) => Ok((&net[..at], Some(cidr_value(&net[at + 1..], max)?))),
        None => Ok((net, None)),
    }
}

/// A CIDR length: `"0" / %x31-39 0*nDIGIT`, at most `max` (§12).
fn cidr_value(digits: &[u8], max: u8) -> Result<u8, ParseErrorKind> {
    if !is_digits(digits) || digits.len() > 3 || (digits.len() > 1 && digits[0] == b'0') {
        return Err(ParseErrorKind::InvalidCidr);
    }
    let value = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    u8::try_from(value).ok().filter(|&v| v <= max).ok_or(ParseErrorKind::InvalidCidr)
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn parse_modifier(name: &[u8], value: &[u8]) -> Result<Modifier, ParseErrorKind> {
    // name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    let valid_name = name.first().is_some_and(u8::is_ascii_alphabetic)
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_name {
        return Err(ParseErrorKind::InvalidModifierName);
    }
    if name.eq_ignore_ascii_case(b"redirect") {
        Ok(Modifier::Redirect(parse_domain_spec(value)?))
    } else if name.eq_ignore_ascii_case(b"exp") {
        Ok(Modifier::Exp(parse_domain_spec(value)?))
    } else {
        let value = MacroString::parse(value, MacroContext::Record)?;
        let name = String::from_utf8_lossy(name).into();
        Ok(Modifier::Unknown { name, value })
    }
}

/// `domain-spec = macro-string domain-end` (§7.1).
pub(crate) fn parse_domain_spec(text: &[u8]) -> Result<DomainSpec, ParseErrorKind> {
    if text.is_empty() {
        return Err(ParseErrorKind::EmptyDomain);
    }
    let spec = MacroString::parse(text, MacroContext::Record)?;
    // domain-end = ( "." toplabel [ "." ] ) / macro-expand
    if !spec.ends_with_expand() {
        let literal = spec.trailing_literal().ok_or(ParseErrorKind::InvalidDomainEnd)?;
        let literal = literal.strip_suffix('.').unwrap_or(literal);
        let dot = literal.rfind('.').ok_or(ParseErrorKind::InvalidDomainEnd)?;
        if !is_toplabel(&literal[dot + 1..]) {
            return Err(ParseErrorKind::InvalidDomainEnd);
        }
    }
    let literal = spec.as_plain_literal().map(|s| {
        let s = s.strip_suffix('.').unwrap_or(s);
        Arc::<str>::from(s.to_ascii_lowercase())
    });
    let literal_queryable = literal.as_deref().is_some_and(crate::input::valid_name);
    Ok(DomainSpec { spec, literal, literal_queryable })
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`:
/// letters, digits and inner hyphens, not all digits.
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && (b.iter().any(u8::is_ascii_alphabetic) || b.contains(&b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Record {
        Record::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn kind(s: &str) -> ParseErrorKind {
        Record::parse(s).expect_err(s).kind
    }

    #[test]
    fn mechanisms_and_cidrs() {
        let r = ok(
            "v=spf1 +a -mx:example.com/24//64 ~ptr ?ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.x.example include:_spf.example.com all",
        );
        assert_eq!(r.terms().len(), 8);
        let Term::Directive(d) = &r.terms()[1] else { panic!() };
        assert_eq!(d.qualifier, Qualifier::Fail);
        assert_eq!(
            d.mechanism,
            Mechanism::Mx {
                domain: Some(parse_domain_spec(b"example.com").expect("spec")),
                cidr: DualCidr { v4: Some(24), v6: Some(64) }
            }
        );
        assert!(r.has_all());
        assert_eq!(ok("v=spf1 a//0").terms()[0], ok("v=spf1 a//0").terms()[0]);
        assert!(matches!(&ok("v=spf1 a:foo:bar/baz.example.com").terms()[0],
            Term::Directive(Directive { mechanism: Mechanism::A { domain: Some(d), cidr }, .. })
            if d.literal() == Some("foo:bar/baz.example.com") && *cidr == DualCidr::default()));
    }

    #[test]
    fn errors_name_term_and_offset() {
        let e = Record::parse("v=spf1 ip4:1.2.3.4 -all moo").expect_err("moo");
        assert_eq!((e.offset, e.term.as_str()), (24, "moo"));
        assert_eq!(e.kind, ParseErrorKind::UnknownMechanism);
        let e = Record::parse("v=spf1 a:ctrl.example.com\rptr -all").expect_err("cr");
        assert_eq!(e.offset, 7);
        assert_eq!(e.kind, ParseErrorKind::InvalidByte { byte: b'\r' });
    }

    #[test]
    fn syntax_rules() {
        assert_eq!(kind("v=spf1 all:foo"), ParseErrorKind::InvalidArgument { mechanism: "all" });
        assert_eq!(kind("v=spf1 ip4:1.2.3.4/33"), ParseErrorKind::InvalidCidr);
        assert_eq!(kind("v=spf1 ip4:1.2.3.4/032"), ParseErrorKind::InvalidCidr);
        assert_eq!(kind("v=spf1 ip4:1.2.3.4//32"), ParseErrorKind::InvalidIp);
        assert_eq!(kind("v=spf1 ip6:::1/129"), ParseErrorKind::InvalidCidr);
        assert_eq!(kind("v=spf1 a:museum"), ParseErrorKind::InvalidDomainEnd);
        assert_eq!(kind("v=spf1 a:111.222.33.44"), ParseErrorKind::InvalidDomainEnd);
        assert_eq!(kind("v=spf1 a:example.-com"), ParseErrorKind::InvalidDomainEnd);
        assert_eq!(kind("v=spf1 include:"), ParseErrorKind::EmptyDomain);
        assert_eq!(kind("v=spf1 1up=foo"), ParseErrorKind::InvalidModifierName);
        assert_eq!(kind("v=spf1 =all"), ParseErrorKind::InvalidModifierName);
        assert_eq!(
            kind("v=spf1 exp=a.example exp=b.example"),
            ParseErrorKind::DuplicateModifier { modifier: "exp" }
        );
        assert_eq!(kind("v-spf1 -all"), ParseErrorKind::NotSpf1);
        ok("v=spf1 a:xn--bcher-kva.example");
        ok("V=SPF1 MX -ALL moo.cow-far_out=man:dog/cat ");
        ok("v=spf1");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "v=spf1 a mx:example.com/24//64 -ptr ip4:192.0.2.1 ip6:2001:db8::/32 exists:%{ir}.%{l1r-}.x.example ~all",
            "v=spf1 redirect=_spf.example.com exp=explain.%{d} foo=%{h}bar",
        ] {
            let r = ok(s);
            assert_eq!(r.to_string(), s);
            assert_eq!(ok(&r.to_string()), r);
        }
    }
}
