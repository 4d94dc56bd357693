//! The linter over a fuzzer-chosen DNS world (see `world.rs`), linting the
//! sender's domain or a draft record (with or without a domain). It returns
//! without panicking, within its query and record budgets, and its report
//! stays bounded.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use spf_core::lint::{LintOptions, LintRequest, Linter, MAX_LISTED_CIDRS};

#[path = "world.rs"]
mod world;

/// Option bits of `@opts`.
const DRAFT_ALONE: u32 = 1;
const NO_MAIL_HOSTS: u32 = 2;
const HELO_DOMAIN: u32 = 4;

fuzz_target!(|data: &[u8]| {
    let world = world::World::parse(data);
    let opts = world.opts;
    let domain = if opts & HELO_DOMAIN != 0 || world.helo_mode {
        world.helo.clone()
    } else {
        let from = world.mail_from.as_str();
        from.rsplit_once('@').map_or(from, |(_, d)| d).to_string()
    };
    let mut request = match &world.draft {
        Some(text) if opts & DRAFT_ALONE != 0 => LintRequest::record(text.clone(), None),
        Some(text) => LintRequest::record(text.clone(), Some(domain)),
        None => LintRequest::domain(domain),
    };
    request.ips = world.checks.clone();
    request.self_test = vec![world.ip];
    let mut options = LintOptions::default();
    options.deadline = Some(Duration::from_secs(2));
    options.check_mail_hosts = opts & NO_MAIL_HOSTS == 0;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let linter = Linter::new(&world.zone, options.clone());
    let report = runtime.block_on(linter.lint(&request));
    assert!(report.dns_queries <= options.max_queries, "{} queries", report.dns_queries);
    assert!(report.tree.len() <= options.max_records as usize + 1, "{} records followed", report.tree.len());
    for space in [&report.authorized, &report.possibly_authorized] {
        for family in [&space.ipv4, &space.ipv6] {
            assert!(family.cidrs.len() <= MAX_LISTED_CIDRS, "{} CIDRs listed", family.cidrs.len());
            assert!((0.0..=1.0).contains(&family.fraction), "fraction {}", family.fraction);
        }
    }
    for ip in request.ips.iter().chain(&request.self_test) {
        let _ = report.authorizes(*ip);
    }
    let _ = report.has_errors();
});
