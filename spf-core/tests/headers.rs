//! Tests of the Received-SPF and Authentication-Results headers.

use spf_core::dns::Zone;
use spf_core::eval::Matched;
use spf_core::headers::{
    FOLD_WIDTH, MAX_LINE_OCTETS, MAX_PROBLEM_OCTETS, MAX_VALUE_OCTETS, authentication_results,
    authentication_results_spf, received_spf,
};
use spf_core::{CheckOptions, CheckRequest, Evaluation, Evaluator, Identity, Reason, SpfResult};

fn eval(result: SpfResult, identity: Identity, sender: &str, helo: &str) -> Evaluation {
    let ip = "192.0.2.1".parse().expect("ip");
    let domain = sender.rsplit('@').next().unwrap_or_default();
    let mut eval = Evaluation::new(&CheckRequest::check_host(identity, ip, domain, sender, helo), result);
    // Kept as given, however hostile, to test the escaping.
    eval.sender = sender.to_string();
    eval
}

#[test]
fn received_spf_pass_names_every_key() {
    let mut e = eval(SpfResult::Pass, Identity::MailFrom, "alice@example.com", "mail.example.com");
    e.matched = Some(Matched { term: "ip4:192.0.2.0/24".into(), domain: "example.com".into() });
    assert_eq!(
        unfold(&received_spf(&e, Some("mx.example.org"))),
        "Received-SPF: pass (mx.example.org: domain of alice@example.com designates 192.0.2.1 as \
         permitted sender) client-ip=192.0.2.1; envelope-from=alice@example.com; helo=mail.example.com; \
         receiver=mx.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\""
    );
    assert_eq!(authentication_results_spf(&e), "spf=pass smtp.mailfrom=alice@example.com");
    assert_eq!(
        unfold(&authentication_results(&e, "mx.example.org")),
        "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@example.com"
    );
}

#[test]
fn every_result_has_its_word_and_identity() {
    for result in SpfResult::ALL {
        for identity in [Identity::MailFrom, Identity::Helo] {
            let e = eval(result, identity, "postmaster@mail.example.com", "mail.example.com");
            let header = unfold(&received_spf(&e, None));
            assert_well_formed(&received_spf(&e, Some("mx.example.org")));
            assert!(header.starts_with(&format!("Received-SPF: {} (", result.as_str())), "{header}");
            assert!(header.contains(&format!("identity={}", identity.as_str())), "{header}");
            let ar = unfold(&authentication_results_spf(&e));
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
    let header = unfold(&received_spf(&e, None));
    assert!(
        header.ends_with("; problem=\"2 SPF records at example.net (RFC 7208 4.5 allows one)\""),
        "{header}"
    );
    assert_eq!(
        unfold(&authentication_results_spf(&e)),
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
    e.reason = Some(Reason::NoRecord { domain: "a;b=c".into(), near_miss: None });
    let folded = received_spf(&e, Some("mx\r\n.example.org"));
    assert_well_formed(&folded);
    let header = unfold(&folded);
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
    assert_well_formed(&ar);
    let ar = unfold(&ar);
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

/// The field with its folds removed (a fold is an LF before a space).
fn unfold(field: &str) -> String {
    field.replace('\n', "")
}

/// ASCII, no CR, NUL or bare LF (every LF is a fold: followed by a space),
/// every line within RFC 5322's 998 octets, and a line over the fold width
/// only when it holds a single piece that cannot be folded (no space outside
/// quoted-strings after its leading one, or after the field's name).
fn assert_well_formed(field: &str) {
    assert!(field.is_ascii(), "{field}");
    assert!(!field.contains('\r') && !field.contains('\0'), "{field:?}");
    assert!(!field.ends_with('\n'), "{field:?}");
    for (i, line) in field.split('\n').enumerate() {
        assert!(i == 0 || line.starts_with(' '), "line {i} is not a fold: {field:?}");
        assert!(line.len() <= MAX_LINE_OCTETS, "line {i} has {} octets", line.len());
        if line.len() > FOLD_WIDTH {
            // The first line never folds between the field's name and its
            // first word (callers strip "Name: " to get the value).
            let start = if i == 0 { line.find(": ").map_or(0, |p| p + 2) } else { 1 };
            let rest = strip_quoted(line.get(start..).unwrap_or_default());
            assert!(!rest.contains(' '), "line {i} ({} octets) could have been folded: {line:?}", line.len());
        }
    }
}

#[test]
fn long_fields_fold_at_78_and_unfold_to_the_same_text() {
    let mut e = eval(SpfResult::Pass, Identity::MailFrom, "alice@example.com", "mail.example.com");
    e.matched = Some(Matched { term: "ip4:192.0.2.0/24".into(), domain: "example.com".into() });
    let folded = received_spf(&e, Some("mx.example.org"));
    assert_eq!(
        folded,
        "Received-SPF: pass (mx.example.org: domain of alice@example.com designates\n \
         192.0.2.1 as permitted sender) client-ip=192.0.2.1;\n \
         envelope-from=alice@example.com; helo=mail.example.com;\n \
         receiver=mx.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\""
    );
    assert_well_formed(&folded);
    assert!(folded.split('\n').all(|line| line.len() <= FOLD_WIDTH), "{folded}");
    let ar = authentication_results(&e, "mx.example.org");
    assert_eq!(ar, "Authentication-Results: mx.example.org; spf=pass\n smtp.mailfrom=alice@example.com");
    // A short field stays on one line.
    let short = eval(SpfResult::Pass, Identity::MailFrom, "a@b.example", "h");
    assert!(!authentication_results(&short, "mx").contains('\n'));
}

#[test]
fn the_comment_keeps_what_rfc_5322_allows() {
    // A HELO name that is an address literal reads as sent (issue 15).
    let e = eval(SpfResult::Fail, Identity::Helo, "postmaster@[127.0.0.1]", "[127.0.0.1]");
    let header = unfold(&received_spf(&e, None));
    assert!(
        header.contains("(HELO [127.0.0.1] does not designate 192.0.2.1 as permitted sender)"),
        "{header}"
    );
    // Every printable ASCII character: ctext passes, `\` is a quoted-pair,
    // the rest is `?` (the module documentation says why).
    let printable: String = (' '..='~').filter(|c| *c != ' ').collect();
    let e = eval(SpfResult::Pass, Identity::Helo, "postmaster@x.example", &printable);
    let header = unfold(&received_spf(&e, None));
    let expected: String = printable
        .chars()
        .map(|c| match c {
            '\\' => "\\\\".to_string(),
            '(' | ')' | '"' | ';' | '=' => "?".to_string(),
            c => c.to_string(),
        })
        .collect();
    assert!(header.contains(&format!("(HELO {expected} designates")), "{header}");
    assert_well_formed(&received_spf(&e, None));
}

/// A reason whose text is exactly `len` octets (a no-record domain name padded).
fn reason_of_length(len: usize) -> Reason {
    let fixed = Reason::NoRecord { domain: String::new(), near_miss: None }.to_string().len();
    let reason = Reason::NoRecord { domain: "d".repeat(len - fixed), near_miss: None };
    assert_eq!(reason.to_string().len(), len);
    reason
}

#[test]
fn problem_text_is_kept_whole_at_the_bound_and_cut_past_it() {
    let mut e = eval(SpfResult::PermError, Identity::MailFrom, "bob@example.net", "mail.example.net");
    e.reason = Some(reason_of_length(MAX_PROBLEM_OCTETS));
    let whole = e.reason.as_ref().map(ToString::to_string).unwrap_or_default();
    let header = received_spf(&e, None);
    assert_well_formed(&header);
    assert!(unfold(&header).ends_with(&format!("; problem=\"{whole}\"")), "{header}");
    assert!(unfold(&authentication_results_spf(&e)).contains(&format!(" reason=\"{whole}\" ")));

    e.reason = Some(reason_of_length(MAX_PROBLEM_OCTETS + 1));
    let long = e.reason.as_ref().map(ToString::to_string).unwrap_or_default();
    let cut = format!("{}...", &long[..MAX_PROBLEM_OCTETS - 3]);
    assert_eq!(cut.len(), MAX_PROBLEM_OCTETS);
    let header = received_spf(&e, None);
    assert_well_formed(&header);
    assert!(unfold(&header).ends_with(&format!("; problem=\"{cut}\"")), "{header}");
    let ar = authentication_results(&e, "mx.example.net");
    assert_well_formed(&ar);
    assert!(unfold(&ar).contains(&format!(" reason=\"{cut}\" ")), "{ar}");
}

#[test]
fn problem_text_is_cut_at_a_character_boundary() {
    let mut e = eval(SpfResult::PermError, Identity::MailFrom, "bob@example.net", "mail.example.net");
    // Two-octet characters straddle the bound; non-ASCII shows as `?`.
    let fixed = Reason::NoRecord { domain: String::new(), near_miss: None }.to_string().len();
    e.reason =
        Some(Reason::NoRecord { domain: "\u{e9}".repeat(MAX_PROBLEM_OCTETS - fixed), near_miss: None });
    let header = unfold(&received_spf(&e, None));
    let problem = header.split("problem=\"").nth(1).expect("a problem").trim_end_matches('"');
    assert!(problem.ends_with("?..."), "{problem}");
    assert!(problem.len() < MAX_PROBLEM_OCTETS, "{problem}");
}

#[test]
fn values_are_kept_whole_at_the_bound_and_cut_past_it() {
    let domain = ".example.com";
    let at_bound = format!("b@{}{domain}", "a".repeat(MAX_VALUE_OCTETS - 2 - domain.len()));
    assert_eq!(at_bound.len(), MAX_VALUE_OCTETS);
    let e = eval(SpfResult::Pass, Identity::MailFrom, &at_bound, "mail.example.com");
    let header = unfold(&received_spf(&e, None));
    assert!(header.contains(&format!(" envelope-from={at_bound};")), "{header}");
    assert!(header.contains(&format!("domain of {at_bound} designates")), "{header}");

    let past = format!("x{at_bound}");
    let e = eval(SpfResult::Pass, Identity::MailFrom, &past, "mail.example.com");
    let folded = received_spf(&e, None);
    assert_well_formed(&folded);
    let header = unfold(&folded);
    let cut = format!("{}...", &past[..MAX_VALUE_OCTETS - 3]);
    assert!(header.contains(&format!(" envelope-from=\"{cut}\";")), "{header}");
    assert!(header.contains(&format!("domain of {cut} designates")), "{header}");
    assert!(unfold(&authentication_results_spf(&e)).ends_with(&format!("smtp.mailfrom=\"{cut}\"")));
}

#[test]
fn a_megabyte_of_hostile_input_gives_bounded_fields() {
    let huge = "\"(\\;=)\r\n \u{e9}x".repeat(100_000);
    let mut e = eval(SpfResult::TempError, Identity::Helo, &format!("{huge}@{huge}"), &huge);
    e.matched = Some(Matched { term: huge.clone().into(), domain: huge.clone().into() });
    e.reason = Some(Reason::Dns {
        name: huge.clone(),
        rtype: spf_core::dns::RecordType::Txt,
        failure: spf_core::dns::TempFailure::Timeout,
    });
    for field in
        [received_spf(&e, Some(&huge)), authentication_results(&e, &huge), authentication_results_spf(&e)]
    {
        assert_well_formed(&field);
        assert!(field.len() < 8 * 1024, "{} octets", field.len());
        assert_eq!(
            strip_quoted(&unfold(&field)).matches("identity=").count(),
            usize::from(field.starts_with("Received"))
        );
    }
    let mut e = eval(SpfResult::PermError, Identity::MailFrom, &huge, &huge);
    e.reason = Some(Reason::NoRecord { domain: huge.clone(), near_miss: None });
    assert_well_formed(&received_spf(&e, None));
}

/// Runs a real MAIL FROM check over `zone`.
fn check(zone: Zone, sender: &str) -> Evaluation {
    let evaluator = Evaluator::new(zone, CheckOptions::default());
    let ip = "192.0.2.1".parse().expect("ip");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(evaluator.check_mail_from(ip, sender, "mail.example.org"))
}

/// Issue 14: a record with a 60 KB unknown term made a 60 KB header line.
#[test]
fn issue_14_a_60_kb_unknown_term_gives_bounded_headers() {
    let mut zone = Zone::new();
    let record = format!("v=spf1 ip4:198.51.100.1 unknown{} -all", "x".repeat(60 * 1024));
    zone.add_txt("big.example", vec![record.into_bytes()]);
    let e = check(zone, "alice@big.example");
    assert_eq!(e.result, SpfResult::PermError, "{e:?}");
    let reason = e.reason.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(reason.len() > 60 * 1024, "the reason itself names the whole term");
    for field in [received_spf(&e, Some("mx.example.org")), authentication_results(&e, "mx.example.org")] {
        assert_well_formed(&field);
        assert!(field.len() < 1024, "{} octets: {field}", field.len());
        assert!(unfold(&field).contains("...\""), "{field}");
    }
}

/// Issue 14: a 64-character local part (RFC 5321's most) expanded by many
/// `%{l}` macros in a term that goes over the lookup limit.
#[test]
fn issue_14_a_long_local_part_times_many_macros_gives_bounded_headers() {
    let local = "l".repeat(64);
    let macros = "%{l}.".repeat(200);
    let mut record = String::from("v=spf1");
    for i in 0..10 {
        record.push_str(&format!(" a:h{i}.example"));
    }
    record.push_str(&format!(" exists:{macros}x.example include:{macros}y.example -all"));
    let mut zone = Zone::new();
    zone.add_txt("macros.example", vec![record.into_bytes()]);
    for i in 0..10 {
        zone.add_a(&format!("h{i}.example"), "198.51.100.1".parse().expect("ip"));
    }
    let e = check(zone, &format!("{local}@macros.example"));
    assert_eq!(e.result, SpfResult::PermError, "{e:?}");
    // The 11th DNS-querying term, 1,000 octets of macros, is named in the reason.
    assert!(matches!(&e.reason, Some(Reason::Limit { term, .. }) if term.len() > 1000), "{e:?}");
    for field in [received_spf(&e, Some("mx.example.org")), authentication_results(&e, "mx.example.org")] {
        assert_well_formed(&field);
        assert!(field.len() < 2048, "{} octets: {field}", field.len());
        assert!(unfold(&field).contains(&format!("{local}@macros.example")), "{field}");
        assert!(unfold(&field).contains("exists:%{l}.%{l}."), "{field}");
        assert!(unfold(&field).contains("...\""), "{field}");
    }
}

#[test]
fn unfolding_gives_back_the_one_line_field() {
    let folded = "Received-SPF: pass (a: b)\n client-ip=192.0.2.1;\n envelope-from=a@b.example";
    assert_eq!(
        spf_core::headers::unfold(folded),
        "Received-SPF: pass (a: b) client-ip=192.0.2.1; envelope-from=a@b.example"
    );
}
