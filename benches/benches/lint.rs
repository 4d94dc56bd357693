//! criterion benchmarks of lint: every zone-file case of the lint tests, and
//! issue 16's hostile world (63 includes of 63 KB alternating
//! `+ip6`/`-ip6`), whole and under a deadline.
//! `cargo bench -p spf-benches --bench lint`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use spf_core::dns::Zone;
use spf_core::lint::{LintOptions, LintReport, LintRequest, Linter};

/// Issue 16's world: `hostile.example` includes `includes` records of about
/// `size` bytes each (a hostile server answers over TCP, up to 65 KB),
/// each alternating `+ip6:I:K::` (K even) and `-ip6:I:K::` (K odd).
fn hostile_ip6_world(includes: usize, size: usize) -> Zone {
    let mut zone = Zone::new();
    let split = |text: String| text.into_bytes().chunks(255).map(<[u8]>::to_vec).collect::<Vec<_>>();
    let names: Vec<String> = (0..includes).map(|i| format!("include:h{i}.hostile.example")).collect();
    zone.add_txt("hostile.example", split(format!("v=spf1 {} -all", names.join(" "))));
    for i in 0..includes {
        let mut record = "v=spf1".to_string();
        let mut k = 0u32;
        loop {
            let term = format!(" {}ip6:{i:x}:{k:x}::", if k.is_multiple_of(2) { '+' } else { '-' });
            if record.len() + term.len() + " ~all".len() > size {
                break;
            }
            record.push_str(&term);
            k += 1;
        }
        record.push_str(" ~all");
        zone.add_txt(&format!("h{i}.hostile.example"), split(record));
    }
    zone
}

/// The zone of the lint tests and the domains of its cases.
fn cases() -> (Zone, Vec<String>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spf-core/tests/data/lint/cases.zone");
    let text = std::fs::read_to_string(&path).expect("cases.zone");
    let mut zone = Zone::from_master_str(&text, "cases.zone").expect("cases.zone parses");
    zone.add_timeout("slow.lint.example");
    let mut domains: Vec<String> = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.ends_with(".lint.example.") && !name.starts_with('_'))
        .map(|name| name.trim_end_matches('.').to_string())
        .collect();
    domains.dedup();
    (zone, domains)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime")
}

fn lint_cases(c: &mut Criterion) {
    let (zone, domains) = cases();
    let linter = Linter::new(&zone, LintOptions::default());
    let rt = runtime();
    let requests: Vec<LintRequest> = domains.iter().map(LintRequest::domain).collect();
    let mut group = c.benchmark_group("lint_cases");
    group.bench_function(format!("all_{}_domains", requests.len()), |b| {
        b.iter(|| {
            for request in &requests {
                black_box(rt.block_on(linter.lint(request)));
            }
        })
    });
    let clean = LintRequest::domain("clean.lint.example");
    group.bench_function("clean", |b| b.iter(|| black_box(rt.block_on(linter.lint(&clean)))));
    group.finish();
}

fn lint_hostile(c: &mut Criterion) {
    let zone = Arc::new(hostile_ip6_world(63, 63_000));
    let rt = runtime();
    let request = LintRequest::domain("hostile.example");
    let lint = |options: LintOptions| -> LintReport {
        rt.block_on(Linter::new(zone.as_ref(), options).lint(&request))
    };
    let full = lint(LintOptions::default());
    assert!(full.complete, "the whole world is linted");
    let mut group = c.benchmark_group("lint_hostile_63x63KB");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("whole", |b| b.iter(|| black_box(lint(LintOptions::default()))));
    // Time to the deadline plus what a lint overruns it by.
    let deadline = Duration::from_millis(50);
    let with_deadline = || {
        let mut options = LintOptions::default();
        options.deadline = Some(deadline);
        options
    };
    let cut = lint(with_deadline());
    eprintln!("with a 50 ms deadline the report is {}", if cut.complete { "complete" } else { "truncated" });
    group.bench_function("deadline_50ms", |b| b.iter(|| black_box(lint(with_deadline()))));
    group.finish();
}

criterion_group!(benches, lint_cases, lint_hostile);
criterion_main!(benches);
