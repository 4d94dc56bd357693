//! Lint (and anything else over a [`Backend`]) for synchronous callers:
//! the command line, the C ABI, Python.

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;

use crate::checker::{Backend, DnsSource};
use crate::dns::Resolver;
use crate::error::Error;

use super::{LintOptions, LintReport, LintRequest, Linter};

/// Runs `work` over DNS from `source` on a runtime of its own, blocking the
/// calling thread until it is done. For one-off work (a lint, a draft
/// check); mail servers checking messages keep a [`Checker`](crate::Checker).
///
/// The work runs on the calling thread, its DNS I/O on one worker thread
/// of the runtime, which ends with the call. Called from inside a tokio
/// runtime (where blocking would stall it, or panic), it runs on a helper
/// thread instead.
pub fn run_with_dns<T, F, Fut>(source: &DnsSource, work: F) -> Result<T, Error>
where
    F: FnOnce(Backend) -> Fut + Send,
    Fut: Future<Output = T>,
    T: Send,
{
    let run = move || -> Result<T, Error> {
        // Multi-threaded (with one worker) rather than current-thread: its
        // block_on leaves no per-thread state in the calling thread, which
        // may be a C program's main thread.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fastspf-lint")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(Arc::new(e)))?;
        let backend = match source {
            DnsSource::Resolver(settings) => {
                let _context = runtime.enter();
                Backend::Resolver(Box::new(Resolver::new(settings)?))
            }
            DnsSource::Zone(zone) => Backend::Zone(Arc::clone(zone)),
        };
        Ok(runtime.block_on(work(backend)))
    };
    if Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|scope| match scope.spawn(run).join() {
        Ok(output) => output,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Lints over DNS from `source`, blocking (see [`run_with_dns`]). For a
/// zone, whether the domain publishes an obsolete SPF (type 99) record is
/// filled in from the zone's master files.
pub fn lint_blocking(
    source: &DnsSource,
    request: &LintRequest,
    options: &LintOptions,
) -> Result<LintReport, Error> {
    let mut request = request.clone();
    if request.spf_rr_published.is_none()
        && let DnsSource::Zone(zone) = source
        && let Some(domain) = request.domain_name()
    {
        request.spf_rr_published = Some(zone.spf_rr_names().contains(&domain));
    }
    run_with_dns(source, |backend| async move { Linter::new(backend, options.clone()).lint(&request).await })
}
