//! Tests of the Received-SPF and Authentication-Results headers.

use spf_core::eval::Matched;
use spf_core::headers::{authentication_results, authentication_results_spf, received_spf};
use spf_core::{Evaluation, Identity, Reason, SpfResult};

fn eval(result: SpfResult, identity: Identity, sender: &str, helo: &str) -> Evaluation {
    Evaluation {
        result,
        identity,
        ip: "192.0.2.1".parse().expect("ip"),
        sender: sender.to_string(),
        helo: Some(helo.to_string()),
        domain: sender.rsplit('@').next().unwrap_or_default().into(),
        explanation: None,
        matched: None,
        reason: None,
        dns_lookups: 0,
        void_lookups: 0,
        dns_queries: 0,
        trace: Vec::new(),
    }
}

#[test]
fn received_spf_pass_names_every_key() {
    let mut e = eval(SpfResult::Pass, Identity::MailFrom, "alice@example.com", "mail.example.com");
    e.matched = Some(Matched { term: "ip4:192.0.2.0/24".into(), domain: "example.com".into() });
    assert_eq!(
        received_spf(&e, Some("mx.example.org")),
        "Received-SPF: pass (mx.example.org: domain of alice@example.com designates 192.0.2.1 as \
         permitted sender) client-ip=192.0.2.1; envelope-from=alice@example.com; helo=mail.example.com; \
         receiver=mx.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\""
    );
    assert_eq!(authentication_results_spf(&e), "spf=pass smtp.mailfrom=alice@example.com");
    assert_eq!(
        authentication_results(&e, "mx.example.org"),
        "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@example.com"
    );
}

#[test]
fn every_result_has_its_word_and_identity() {
    for result in SpfResult::ALL {
        for identity in [Identity::MailFrom, Identity::Helo] {
            let e = eval(result, identity, "postmaster@mail.example.com", "mail.example.com");
            let header = received_spf(&e, None);
            assert!(header.starts_with(&format!("Received-SPF: {} (", result.as_str())), "{header}");
            assert!(header.contains(&format!("identity={}", identity.as_str())), "{header}");
            let ar = authentication_results_spf(&e);
            assert!(ar.starts_with(&format!("spf={} ", result.as_str())), "{ar}");
            let property = match identity {
                Identity::MailFrom => "smtp.mailfrom=postmaster@mail.example.com",
                Identity::Helo => "smtp.helo=mail.example.com",
            };
            assert!(ar.ends_with(property), "{ar}");
        }
    }
}

#[test]
fn errors_carry_the_problem() {
    let mut e = eval(SpfResult::PermError, Identity::MailFrom, "bob@example.net", "mail.example.net");
    e.reason = Some(Reason::MultipleRecords { domain: "example.net".into(), count: 2 });
    let header = received_spf(&e, None);
    assert!(
        header.ends_with("; problem=\"2 SPF records at example.net (RFC 7208 4.5 allows one)\""),
        "{header}"
    );
    assert_eq!(
        authentication_results_spf(&e),
        "spf=permerror reason=\"2 SPF records at example.net (RFC 7208 4.5 allows one)\" \
         smtp.mailfrom=bob@example.net"
    );
}

#[test]
fn hostile_values_cannot_inject() {
    let sender = "evil\r\nX-Injected: yes; identity=helo\"\\(x)\u{0}\u{e9}@example.com";
    let helo = "h\ne;lo=\"x\"";
    let mut e = eval(SpfResult::Fail, Identity::MailFrom, sender, helo);
    e.matched = Some(Matched { term: "-all\r\nBcc: x".into(), domain: "example.com".into() });
    e.reason = Some(Reason::NoRecord { domain: "a;b=c".into() });
    let header = received_spf(&e, Some("mx\r\n.example.org"));
    assert!(!header.contains('\r') && !header.contains('\n') && !header.contains('\0'), "{header}");
    assert!(header.is_ascii(), "{header}");
    // The only unquoted keys are ours: every `identity=` outside quotes is the real one.
    let unquoted = strip_quoted(&header);
    assert_eq!(unquoted.matches("identity=").count(), 1, "{header}");
    assert!(unquoted.contains("identity=mailfrom"), "{header}");
    // "X-Injected:" survives only as text inside the one header line.
    assert_eq!(header.lines().count(), 1, "{header}");
    // The comment closes only where it should and holds no key syntax.
    let comment_end = header.find(") client-ip=").expect("comment closes before the keys");
    let comment = &header[..comment_end];
    assert_eq!(comment.matches(['(', ')']).count(), 1, "{header}");
    assert!(!comment.contains('=') && !comment.contains(';'), "{header}");
    let ar = authentication_results(&e, "mx.example.org");
    assert!(!ar.contains('\r') && !ar.contains('\n') && ar.is_ascii(), "{ar}");
    assert_eq!(strip_quoted(&ar).matches("smtp.").count(), 1, "{ar}");
}

/// The text outside quoted-strings (honouring `\` escapes).
fn strip_quoted(text: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}
