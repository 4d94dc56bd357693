//! Issue 14, hot-path safety: nothing a sender or a DNS server controls can
//! make a check unbounded. One test (or a few) per item of the issue, named
//! after what it proves.

use spf_core::dns::Zone;
use spf_core::macros::{EXPANSION_BUDGET, MAX_DOMAIN_NAME, MAX_EXPLANATION};
use spf_core::{CheckOptions, Evaluation, Evaluator, SpfResult};

fn evaluate(zone: &Zone, ip: &str, sender: &str) -> Evaluation {
    let evaluator = Evaluator::new(zone, CheckOptions::default());
    let ip = spf_core::parse_ip(ip).expect("test IPs are valid");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(evaluator.check_mail_from(ip, sender, "helo.example.org"))
}

/// A TXT record of `text`, split into 255-octet strings as DNS carries it.
fn txt(zone: &mut Zone, name: &str, text: &str) {
    zone.add_txt(name, text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect());
}

// Item 1: an `exp=` text of thousands of `%{s}` and a long local part gave
// 1.18 MB (64 octets) to 1.6 GB (100,000 octets) of explanation per check.
#[test]
fn item1_explanation_of_thousands_of_macros_stops_at_512_octets() {
    let mut zone = Zone::new();
    txt(&mut zone, "exp.example", "v=spf1 -all exp=why.exp.example");
    txt(&mut zone, "why.exp.example", &"%{s}".repeat(5_000));
    for local in [64, 2_000, 100_000] {
        let sender = format!("{}@exp.example", "a".repeat(local));
        let eval = evaluate(&zone, "192.0.2.1", &sender);
        assert_eq!(eval.result, SpfResult::Fail);
        let explanation = eval.explanation.expect("a fail has an explanation");
        assert_eq!(explanation.len(), MAX_EXPLANATION, "local part of {local}");
        assert!(explanation.starts_with(&"a".repeat(MAX_EXPLANATION.min(local))));
        // The trace holds the explanation once, bounded the same way.
        let traced: usize = serde_json::to_string(&eval.trace).expect("json").len();
        assert!(traced < 64 * 1024, "trace of {traced} bytes");
    }
}

// Item 1: domain-spec targets are built from the right and never longer than
// 253 octets, whatever the record asks for.
#[test]
fn item1_target_of_thousands_of_macros_is_cut_to_253_octets_from_the_left() {
    let mut zone = Zone::new();
    txt(
        &mut zone,
        "target.example",
        &format!("v=spf1 exists:{}x.target.example -all", "%{l}.".repeat(4_000)),
    );
    let sender = format!("{}@target.example", "b".repeat(60));
    let eval = evaluate(&zone, "192.0.2.1", &sender);
    assert_eq!(eval.result, SpfResult::Fail);
    let asked = zone.queries();
    let (name, _) = asked.iter().find(|(n, _)| n.ends_with(".x.target.example")).expect("exists was asked");
    assert!(name.len() <= MAX_DOMAIN_NAME, "{} octets", name.len());
    // 60-octet labels from the left were dropped whole: what is left is
    // whole labels of the expansion, then the literal suffix.
    assert!(name.split('.').all(|label| label.len() <= 63));
    assert!(name.len() > MAX_DOMAIN_NAME - 64);
}

// Item 1: the per-check budget: ten terms of many macros over a sender of
// 100,000 octets stop at the budget instead of reading it ten thousand times.
#[test]
fn item1_expansion_work_per_check_is_bounded() {
    let mut zone = Zone::new();
    let terms: Vec<String> =
        (0..10).map(|i| format!("exists:{}.t{i}.budget.example", "%{l1}".repeat(500))).collect();
    txt(&mut zone, "budget.example", &format!("v=spf1 {} -all", terms.join(" ")));
    // A local part of 100,000 octets whose last dot-part is one octet: each
    // `%{l1}` reads it all and produces one octet.
    let local = format!("{}.z", "c".repeat(100_000));
    let eval = evaluate(&zone, "192.0.2.1", &format!("{local}@budget.example"));
    // The budget is enough for two terms' worth (2 x 100,000 octets read);
    // then targets cannot be built and count as void lookups: permerror at
    // the third.
    const { assert!(EXPANSION_BUDGET < 3 * 100_000) };
    assert_eq!(eval.result, SpfResult::PermError);
    assert!(zone.query_count() <= 3, "{} queries", zone.query_count());
}
