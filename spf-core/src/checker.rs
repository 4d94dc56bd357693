//! The [`Checker`]: the object applications hold. Built once from a
//! [`CheckerConfig`]; cheap to clone; `Send + Sync`, so one checker (and its
//! cache) serves every thread of a mail server.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::Error;
use crate::dns::{
    Cache, CacheConfig, CacheStats, CachedLookup, Lookup, LookupResult, QueryBudget, RecordType, Resolver,
    ResolverSettings, Zone,
};
use crate::eval::{CheckOptions, Deadline, Evaluation, Evaluator, Identity, Speculation};

/// Where a checker's DNS answers come from.
#[derive(Clone, Debug)]
pub enum DnsSource {
    /// Real DNS through hickory-resolver.
    Resolver(ResolverSettings),
    /// An in-memory zone (offline: names not in it do not exist).
    Zone(Arc<Zone>),
}

impl Default for DnsSource {
    fn default() -> Self {
        DnsSource::Resolver(ResolverSettings::default())
    }
}

/// How to build a [`Checker`].
#[derive(Clone, Debug)]
pub struct CheckerConfig {
    /// Where answers come from. Default: the system's resolvers.
    pub dns: DnsSource,
    /// Size and TTL policy of the cache this checker creates. Ignored when
    /// `shared_cache` is given.
    pub cache: CacheConfig,
    /// A cache shared with other checkers, if any.
    pub shared_cache: Option<Arc<Cache>>,
    /// Limits, receiver name, explanation, tracing, the per-check deadline.
    pub options: CheckOptions,
    /// Threads of the checker's runtime, which drive DNS I/O for blocking
    /// checks. Default 2.
    pub worker_threads: usize,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            dns: DnsSource::default(),
            cache: CacheConfig::default(),
            shared_cache: None,
            options: CheckOptions::default(),
            worker_threads: 2,
        }
    }
}

/// The DNS behind a checker's cache.
#[derive(Debug)]
pub enum Backend {
    /// hickory-resolver.
    Resolver(Box<Resolver>),
    /// An in-memory zone.
    Zone(Arc<Zone>),
}

impl Lookup for Backend {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        match self {
            Backend::Resolver(r) => r.lookup(name, rtype).await,
            Backend::Zone(z) => z.lookup(name, rtype).await,
        }
    }

    async fn lookup_charged(&self, name: &str, rtype: RecordType, budget: &QueryBudget) -> LookupResult {
        match self {
            Backend::Resolver(r) => r.lookup_charged(name, rtype, budget).await,
            Backend::Zone(z) => z.lookup_charged(name, rtype, budget).await,
        }
    }
}

struct Inner {
    evaluator: Evaluator<CachedLookup<Backend>>,
    /// `Option` only so that `Drop` can shut it down without blocking.
    runtime: Option<Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code; the
        // last clone of a checker may well be dropped there.
        if let Some(runtime) = self.runtime.take() {
            if Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                // Outside async code, wait (briefly) for the worker threads
                // to finish, so nothing of the checker outlives it.
                runtime.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}

/// Checks SPF. See the module documentation.
///
/// ```
/// use std::sync::Arc;
/// use spf_core::{Checker, CheckerConfig, DnsSource, SpfResult, dns::Zone};
///
/// let zone = Zone::from_master_str("example.com. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n", "<doc>")?;
/// let checker = Checker::new(CheckerConfig { dns: DnsSource::Zone(Arc::new(zone)), ..Default::default() })?;
/// let eval = checker.check_blocking("192.0.2.7".parse()?, "alice@example.com", "mail.example.com");
/// assert_eq!(eval.result, SpfResult::Pass);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Checker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("deadline", &self.deadline())
            .field("cache", self.cache())
            .finish_non_exhaustive()
    }
}

impl Checker {
    /// Builds a checker: starts its runtime, sets up the resolver and cache.
    pub fn new(config: CheckerConfig) -> Result<Checker, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("fastspf-dns")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(Arc::new(e)))?;
        let backend = match &config.dns {
            DnsSource::Resolver(settings) => {
                let _context = runtime.enter();
                Backend::Resolver(Box::new(Resolver::new(settings)?))
            }
            DnsSource::Zone(zone) => Backend::Zone(Arc::clone(zone)),
        };
        let cache = config.shared_cache.clone().unwrap_or_else(|| Arc::new(Cache::new(config.cache.clone())));
        // Speculative lookups run on the checker's own runtime, whoever
        // checks; over a zone, whose answers are at hand, they would only
        // fill the cache in the background.
        let mut options = config.options.clone();
        if matches!(backend, Backend::Zone(_)) {
            options.speculation = Speculation::OFF;
        }
        let lookup = CachedLookup::new(backend, cache).with_runtime(runtime.handle().clone());
        let evaluator = Evaluator::new(lookup, options);
        Ok(Checker { inner: Arc::new(Inner { evaluator, runtime: Some(runtime) }) })
    }

    /// The cache (shareable with other checkers through
    /// [`CheckerConfig::shared_cache`]).
    pub fn cache(&self) -> &Arc<Cache> {
        self.inner.evaluator.lookup().cache()
    }

    /// Cache counters and size.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache().stats()
    }

    /// The evaluation options.
    pub fn options(&self) -> &CheckOptions {
        self.inner.evaluator.options()
    }

    /// A handle to the checker's runtime: where asynchronous checks started
    /// from synchronous code (the C ABI's callbacks) run.
    pub fn runtime_handle(&self) -> Handle {
        match self.inner.runtime.as_ref() {
            Some(runtime) => runtime.handle().clone(),
            None => unreachable!("the runtime lives as long as the checker"),
        }
    }

    /// The per-check deadline ([`CheckOptions::deadline`]).
    pub fn deadline(&self) -> Option<Duration> {
        self.options().deadline
    }

    /// When a check starting now must end; lookups still waiting then are
    /// cut short with a timer (the checker's runtime has one, and async
    /// callers are told to run one with a time driver).
    fn deadline_from_now(&self) -> Option<Deadline> {
        self.inner.evaluator.deadline_from_now(true)
    }

    /// Checks the MAIL FROM identity (`mail_from` empty: the null sender,
    /// checked as `postmaster@<helo>`). For async callers: run it inside a
    /// tokio runtime with I/O and time enabled (`#[tokio::main]` has both).
    pub async fn check(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Evaluation {
        let deadline = self.deadline_from_now();
        let work = self.inner.evaluator.check_mail_from_by(ip, mail_from, helo, deadline);
        self.within_deadline(work, deadline, || {
            let (sender, domain) = crate::eval::mail_from_identity(mail_from, helo);
            timed_out(Identity::MailFrom, ip, sender, domain, helo)
        })
        .await
    }

    /// Checks the HELO identity. Async, like [`Checker::check`].
    pub async fn check_helo(&self, ip: IpAddr, helo: &str) -> Evaluation {
        let deadline = self.deadline_from_now();
        let work = self.inner.evaluator.check_helo_by(ip, helo, deadline);
        self.within_deadline(work, deadline, || {
            timed_out(Identity::Helo, ip, format!("postmaster@{helo}"), helo.to_string(), helo)
        })
        .await
    }

    /// Runs `work` (an evaluation that watches `deadline` itself, and ends
    /// in `temperror` with what it did so far) under a backstop timer
    /// [`DEADLINE_BACKSTOP`] later, in case anything awaits outside the
    /// evaluation's own watch. A warm check completes on its first poll and
    /// arms no timer; the deadline counts from before that poll.
    async fn within_deadline<F>(
        &self,
        work: F,
        deadline: Option<Deadline>,
        late: impl FnOnce() -> Evaluation,
    ) -> Evaluation
    where
        F: Future<Output = Evaluation>,
    {
        let mut work = std::pin::pin!(work);
        if let std::task::Poll::Ready(eval) =
            std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await
        {
            return eval;
        }
        let Some(deadline) = deadline else { return work.await };
        match tokio::time::timeout_at((deadline.at + DEADLINE_BACKSTOP).into(), work).await {
            Ok(eval) => eval,
            Err(_) => late(),
        }
    }

    /// [`Checker::check`] for callers without an async runtime (the C and
    /// Python layers, milters): blocks the calling thread until the result
    /// is known, while the checker's own runtime drives the DNS traffic.
    ///
    /// It may be called from any thread, also from inside a tokio runtime
    /// and from the checker's own threads (a [`Checker::check_callback`]
    /// callback): see [`Checker::block_on`] for how it blocks there without
    /// wedging anything. Async code should still `.await`
    /// [`Checker::check`].
    pub fn check_blocking(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Evaluation {
        // Pinned where it is built: moving a check's state costs more than a
        // warm check's work.
        let deadline = self.deadline_from_now();
        let work = std::pin::pin!(self.inner.evaluator.check_mail_from_by(ip, mail_from, helo, deadline));
        self.finish_blocking(work, deadline, || {
            let (sender, domain) = crate::eval::mail_from_identity(mail_from, helo);
            timed_out(Identity::MailFrom, ip, sender, domain, helo)
        })
    }

    /// [`Checker::check_helo`], blocking. See [`Checker::check_blocking`].
    pub fn check_helo_blocking(&self, ip: IpAddr, helo: &str) -> Evaluation {
        let deadline = self.deadline_from_now();
        let work = std::pin::pin!(self.inner.evaluator.check_helo_by(ip, helo, deadline));
        self.finish_blocking(work, deadline, || {
            timed_out(Identity::Helo, ip, format!("postmaster@{helo}"), helo.to_string(), helo)
        })
    }

    /// Polls a check once on this thread (a warm check is then done); if it
    /// has to wait for DNS, blocks on it under the per-check deadline.
    /// [`Checker::block_on`] would poll once too, but only after the
    /// deadline wrapper's future is built: polling here first is 8 % faster
    /// on a warm direct match (criterion, `warm_check/direct_ip4_match`).
    fn finish_blocking<F>(
        &self,
        mut work: std::pin::Pin<&mut F>,
        deadline: Option<Deadline>,
        late: impl FnOnce() -> Evaluation + Send,
    ) -> Evaluation
    where
        F: Future<Output = Evaluation> + Send,
    {
        if Handle::try_current().is_err() {
            let runtime = self
                .inner
                .runtime
                .as_ref()
                .unwrap_or_else(|| unreachable!("the runtime lives as long as the checker"));
            let first = {
                let _context = runtime.enter();
                work.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
            };
            if let std::task::Poll::Ready(eval) = first {
                return eval;
            }
        }
        self.block_on(self.within_deadline(work, deadline, late))
    }

    /// Polls `work` once on the calling thread, inside the checker's
    /// runtime context: `Ok` with its output when it completed without
    /// waiting (a warm check), or `Err` with the future, to be finished with
    /// [`Checker::block_on`] (e.g. after releasing a lock such as Python's GIL).
    pub fn poll_once<F: Future + Unpin>(&self, mut work: F) -> Result<F::Output, F> {
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .unwrap_or_else(|| unreachable!("the runtime lives as long as the checker"));
        let _context = runtime.enter();
        match std::pin::Pin::new(&mut work)
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(output) => Ok(output),
            std::task::Poll::Pending => Err(work),
        }
    }

    /// Lints through the checker's DNS and shared cache (see
    /// [`crate::lint`]): what a domain's record gets wrong and what it
    /// authorizes, with the answers the checks themselves use (and leave
    /// cached for them). Async, like [`Checker::check`].
    pub async fn lint(
        &self,
        request: &crate::lint::LintRequest,
        options: &crate::lint::LintOptions,
    ) -> crate::lint::LintReport {
        crate::lint::Linter::new(self.inner.evaluator.lookup(), options.clone()).lint(request).await
    }

    /// [`Checker::lint`], blocking; see [`Checker::check_blocking`].
    pub fn lint_blocking(
        &self,
        request: &crate::lint::LintRequest,
        options: &crate::lint::LintOptions,
    ) -> crate::lint::LintReport {
        self.block_on(self.lint(request, options))
    }

    /// Runs a future on the checker's runtime from synchronous code, from
    /// any thread:
    ///
    /// - outside any tokio runtime: polls it once right here (a warm check
    ///   is then done) and otherwise blocks on the checker's runtime;
    /// - on a thread of a multi-thread runtime (the checker's own included:
    ///   a callback of [`Checker::check_callback`], a task of the caller's):
    ///   hands that thread's runtime duties to another thread while it
    ///   blocks ([`tokio::task::block_in_place`]), so no thread that drives
    ///   DNS I/O or timers is stuck behind it and nothing can wedge;
    /// - on a current-thread runtime, which cannot hand its duties over:
    ///   blocks on a short-lived helper thread instead.
    pub fn block_on<F>(&self, work: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let Some(runtime) = self.inner.runtime.as_ref() else {
            unreachable!("the runtime lives as long as the checker")
        };
        match Handle::try_current() {
            Err(_) => {
                // A warm check needs no I/O: poll it once right here (with
                // the runtime's context, for timers and sockets it may
                // create) and skip the parking machinery when it is done.
                let mut work = std::pin::pin!(work);
                let first = {
                    let _context = runtime.enter();
                    work.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
                };
                match first {
                    std::task::Poll::Ready(output) => output,
                    std::task::Poll::Pending => runtime.block_on(work),
                }
            }
            Ok(current) if matches!(current.runtime_flavor(), RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| runtime.block_on(work))
            }
            Ok(_) => std::thread::scope(|scope| match scope.spawn(|| runtime.block_on(work)).join() {
                Ok(output) => output,
                Err(panic) => std::panic::resume_unwind(panic),
            }),
        }
    }

    /// Starts a MAIL FROM check and returns at once; `done` gets its
    /// evaluation later, exactly once (`Err` only if the check panicked),
    /// on one of the checker's blocking-pool threads: never the calling
    /// thread, never a thread that drives DNS I/O or timers. So `done` may
    /// take its time or block, even run a blocking check itself, without
    /// holding up other checks. Checks still running when the checker is
    /// dropped are abandoned and their `done` is not called.
    ///
    /// The returned handle cancels the check ([`PendingCheck::cancel`]).
    pub fn check_callback<F>(&self, ip: IpAddr, mail_from: String, helo: String, done: F) -> PendingCheck
    where
        F: FnOnce(Result<Evaluation, CheckPanicked>) + Send + 'static,
    {
        let checker = self.clone();
        self.spawn_with_callback(async move { checker.check(ip, &mail_from, &helo).await }, done)
    }

    /// [`Checker::check_callback`] for the HELO identity.
    pub fn check_helo_callback<F>(&self, ip: IpAddr, helo: String, done: F) -> PendingCheck
    where
        F: FnOnce(Result<Evaluation, CheckPanicked>) + Send + 'static,
    {
        let checker = self.clone();
        self.spawn_with_callback(async move { checker.check_helo(ip, &helo).await }, done)
    }

    fn spawn_with_callback<W, F>(&self, work: W, done: F) -> PendingCheck
    where
        W: Future<Output = Evaluation> + Send + 'static,
        F: FnOnce(Result<Evaluation, CheckPanicked>) + Send + 'static,
    {
        let Some(runtime) = self.inner.runtime.as_ref() else {
            unreachable!("the runtime lives as long as the checker")
        };
        let handle = runtime.handle().clone();
        // The check runs as a task of its own, so that a panic in it is
        // caught by the runtime and reported to `done`.
        let task = handle.spawn(work);
        let pending = PendingCheck { task: task.abort_handle() };
        runtime.spawn(async move {
            let result = match task.await {
                Ok(eval) => Ok(eval),
                Err(error) if error.is_cancelled() => return,
                Err(_) => Err(CheckPanicked),
            };
            drop(handle.spawn_blocking(move || done(result)));
        });
        pending
    }
}

/// A check started with [`Checker::check_callback`], still running or done.
#[derive(Clone, Debug)]
pub struct PendingCheck {
    task: tokio::task::AbortHandle,
}

impl PendingCheck {
    /// Stops the check if it has not finished: its lookups are dropped
    /// (the cache forgets queries nobody waits for any more) and its
    /// callback is not called. Nothing happens if the check is done.
    pub fn cancel(&self) {
        self.task.abort();
    }
}

/// A check started with [`Checker::check_callback`] panicked (a bug in
/// fastspf: please report it); no evaluation came out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the check panicked")]
pub struct CheckPanicked;

/// How long after its deadline a check is cut off from outside if its
/// evaluation has not ended itself (it watches the deadline before every
/// lookup and abandons a lookup still waiting then, so this is a backstop).
pub const DEADLINE_BACKSTOP: Duration = Duration::from_millis(50);

/// The evaluation of a check that ran past its deadline.
fn timed_out(identity: Identity, ip: IpAddr, sender: String, domain: String, helo: &str) -> Evaluation {
    Evaluation::deadline_exceeded(identity, ip, sender, domain, helo)
}
