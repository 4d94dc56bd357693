//! The [`Checker`]: the object applications hold. Built once from a
//! [`CheckerConfig`]; cheap to clone; `Send + Sync`, so one checker (and its
//! cache) serves every thread of a mail server.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::Error;
use crate::compiled::{CompiledConfig, CompiledPolicies, CompiledStats};
use crate::dns::{
    Backend, Cache, CacheConfig, CacheStats, CachedLookup, DnsSource, Overlay, ResolverSettings, Zone,
};
use crate::eval::{
    CheckOptions, CompiledAnswer, CompiledPolicy, Deadline, Evaluation, Evaluator, Reason, Speculation,
    SpfResult,
};
use crate::input::CheckRequest;
use crate::lint::{LintOptions, LintReport, LintRequest, Linter};
use crate::policy::LocalPolicy;
use crate::runtime::CheckerRuntime;

/// How to build a [`Checker`]. Start from [`CheckerConfig::default`] (the
/// defaults every front end shares) and change what you need:
///
/// ```
/// use std::sync::Arc;
/// use spf_core::{CheckerConfig, dns::Zone};
///
/// let zone = Zone::from_master_str("example.com. 300 IN TXT \"v=spf1 -all\"\n", "<doc>")?;
/// let mut config = CheckerConfig::default().with_zone(Arc::new(zone));
/// config.options.receiver = Some("mx.example.net".into());
/// # Ok::<(), spf_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
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
    /// Threads of the checker's runtime, which drive DNS I/O and timers.
    /// Default 2.
    pub worker_threads: usize,
    /// The receiver's local policy, applied around every check (see
    /// [`crate::policy`] and [`CheckerConfig::with_local_policy`]). Default
    /// none: checks are RFC 7208's alone.
    pub local_policy: Option<Arc<LocalPolicy>>,
    /// Compiled policies (see [`crate::eval::CompiledPolicy`]): on by
    /// default; a domain's second check compiles its policy, and later
    /// checks of addresses it decides are one table probe and a binary
    /// search. Checks with the trace on run the evaluator (the policy is
    /// still compiled, for [`Evaluation::authorized`]); checks with a local
    /// policy run the evaluator and compile nothing.
    pub compiled: CompiledConfig,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            dns: DnsSource::default(),
            cache: CacheConfig::default(),
            shared_cache: None,
            options: CheckOptions::default(),
            worker_threads: 2,
            local_policy: None,
            compiled: CompiledConfig::default(),
        }
    }
}

impl CheckerConfig {
    /// Answers from an in-memory zone (offline).
    pub fn with_zone(mut self, zone: Arc<Zone>) -> Self {
        self.dns = DnsSource::Zone(zone);
        self
    }

    /// Real DNS with these settings.
    pub fn with_resolver(mut self, settings: ResolverSettings) -> Self {
        self.dns = DnsSource::Resolver(settings);
        self
    }

    /// These evaluation options.
    pub fn with_options(mut self, options: CheckOptions) -> Self {
        self.options = options;
        self
    }

    /// A cache shared with other checkers.
    pub fn with_shared_cache(mut self, cache: Arc<Cache>) -> Self {
        self.shared_cache = Some(cache);
        self
    }

    /// This local policy around every check ([`Checker::check`] and the
    /// other check methods; not [`Checker::check_draft`] nor the lint):
    /// exempted clients are not checked (those in `skip_networks` or
    /// `allow_networks` cost no lookup at all), a forwarded `fail`, a best
    /// guess and a wide-open pass are noted. What it did is the
    /// evaluation's [`Evaluation::policy_note`], and the header fields name
    /// it. Its lookups go through the checker's cache and count against the
    /// check's deadline. An empty policy is the same as none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use spf_core::{Checker, CheckerConfig, SpfResult, dns::Zone, policy::LocalPolicy};
    ///
    /// let zone = Zone::from_master_str("example.com. 300 IN TXT \"v=spf1 -all\"\n", "<doc>")?;
    /// let mut policy = LocalPolicy::default();
    /// policy.add_allow_networks("192.0.2.0/24")?;
    /// let config = CheckerConfig::default().with_zone(Arc::new(zone)).with_local_policy(policy);
    /// let checker = Checker::new(config)?;
    /// let eval = checker.check_blocking("192.0.2.7".parse()?, "alice@example.com", "mail.example.com");
    /// assert_eq!(eval.result, SpfResult::Pass);
    /// assert!(eval.policy_note().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_local_policy(mut self, policy: LocalPolicy) -> Self {
        self.local_policy = Some(Arc::new(policy));
        self
    }
}

struct Inner {
    evaluator: Evaluator<CachedLookup<Backend>>,
    /// `None` when the configuration has none or an empty one: checks then
    /// pay one `Option` test for it.
    policy: Option<Arc<LocalPolicy>>,
    compiled: CompiledPolicies,
    /// Declared last: dropped after the evaluator, whose speculative lookups
    /// run on it.
    runtime: CheckerRuntime,
}

/// Checks SPF: holds the resolver, the shared cache, the limits and the
/// runtime that drives DNS. Create one per process and share it (it is
/// cheap to clone, and clones share everything).
///
/// ```
/// use std::sync::Arc;
/// use spf_core::{Checker, CheckerConfig, SpfResult, dns::Zone};
///
/// let zone = Zone::from_master_str("example.com. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n", "<doc>")?;
/// let checker = Checker::new(CheckerConfig::default().with_zone(Arc::new(zone)))?;
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
        let runtime = CheckerRuntime::new(config.worker_threads)?;
        let backend = config.dns.backend()?;
        let cache = config.shared_cache.clone().unwrap_or_else(|| Arc::new(Cache::new(config.cache.clone())));
        // Speculative lookups run on the checker's own runtime, whoever
        // checks; over a zone, whose answers are at hand, they would only
        // fill the cache in the background.
        let mut options = config.options;
        if backend.zone().is_some() {
            options.speculation = Speculation::OFF;
        }
        let lookup = CachedLookup::new(backend, cache).with_runtime(runtime.handle().clone());
        let evaluator = Evaluator::new(lookup, options);
        let policy = config.local_policy.filter(|p| !p.is_empty());
        let compiled = CompiledPolicies::new(config.compiled);
        Ok(Checker { inner: Arc::new(Inner { evaluator, policy, compiled, runtime }) })
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

    /// The checker's DNS through its shared cache, for work of your own
    /// (an [`Evaluator`] or [`Linter`] over it; local policy) that should
    /// see the answers checks see and leave its own cached for them.
    pub fn lookup(&self) -> &(impl crate::dns::Lookup + use<>) {
        self.inner.evaluator.lookup()
    }

    /// The evaluation options.
    pub fn options(&self) -> &CheckOptions {
        self.inner.evaluator.options()
    }

    /// The local policy applied around checks, if any
    /// ([`CheckerConfig::with_local_policy`]).
    pub fn local_policy(&self) -> Option<&Arc<LocalPolicy>> {
        self.inner.policy.as_ref()
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
        self.check_owned(CheckRequest::mail_from(ip, mail_from, helo)).await
    }

    /// Checks the HELO identity. Async, like [`Checker::check`].
    pub async fn check_helo(&self, ip: IpAddr, helo: &str) -> Evaluation {
        self.check_owned(CheckRequest::helo(ip, helo)).await
    }

    /// Checks `request`. Async, like [`Checker::check`].
    pub async fn check_request(&self, request: &CheckRequest) -> Evaluation {
        match self.compiled_answer(request) {
            Ok(eval) => eval,
            Err(compile) => self.evaluate(request, compile).await,
        }
    }

    /// [`Checker::check_request`] for a request of its own (see
    /// [`Checker::check_owned_blocking`]).
    async fn check_owned(&self, request: CheckRequest) -> Evaluation {
        match self.compiled_answer_owned(request) {
            Ok(eval) => eval,
            Err((request, compile)) => self.evaluate(&request, compile).await,
        }
    }

    /// The evaluator's check of `request` (or local policy's around it);
    /// then [`Checker::after_evaluation`].
    async fn evaluate(&self, request: &CheckRequest, compile: bool) -> Evaluation {
        let deadline = self.deadline_from_now();
        if let Some(policy) = &self.inner.policy {
            let work = policy.check_within(&self.inner.evaluator, request, deadline);
            return within_deadline(work, deadline, request).await;
        }
        let eval =
            within_deadline(self.inner.evaluator.run_check(request, deadline), deadline, request).await;
        self.after_evaluation(request, eval, compile, deadline)
    }

    /// The evaluation of `request` from its domain's compiled policy, when
    /// there is a fresh one that decides the client's address; otherwise
    /// `Err(compile)`: whether compiling the policy after evaluating is
    /// worth it (there is none, it is stale, or it missed an answer then).
    fn compiled_answer(&self, request: &CheckRequest) -> Result<Evaluation, bool> {
        let inner = &*self.inner;
        if !inner.compiled.enabled() || inner.policy.is_some() {
            return Err(false);
        }
        let cache = self.cache();
        let pinned = inner.compiled.pin();
        match pinned.get(request.domain()) {
            None => Err(true),
            Some(policy) if !policy.fresh(cache.now(), cache.generation()) => Err(true),
            Some(_) if inner.evaluator.options().trace => Err(false),
            Some(policy) => match policy.answer(request, &inner.evaluator) {
                CompiledAnswer::Decided(eval) => Ok(eval),
                CompiledAnswer::Evaluate { missing } => Err(missing),
            },
        }
    }

    /// After the evaluator: compiles the domain's policy when `compile` and
    /// the check ran from the cache alone (so the policy's answers are all
    /// there, and a domain seen once is never compiled), with time to
    /// spare before the deadline; gives a `pass` the policy's exact
    /// [`Evaluation::authorized`].
    fn after_evaluation(
        &self,
        request: &CheckRequest,
        mut eval: Evaluation,
        compile: bool,
        deadline: Option<Deadline>,
    ) -> Evaluation {
        let compiled = &self.inner.compiled;
        if compile
            && eval.dns_queries == 0
            && !matches!(eval.reason, Some(Reason::Deadline))
            && deadline.is_none_or(|d| std::time::Instant::now() + COMPILE_MARGIN < d.at)
            && let Some(policy) = CompiledPolicy::compile(self.cache(), self.options(), request.domain())
        {
            compiled.insert(request.domain(), policy);
        }
        if eval.result == SpfResult::Pass && compiled.enabled() {
            let cache = self.cache();
            let space = compiled.with(request.domain(), |policy| {
                policy.fresh(cache.now(), cache.generation()).then(|| policy.authorized())
            });
            if let Some(Some(space)) = space {
                eval.authorized = Some(space);
                eval = eval.with_wide_open(&self.options().wide_open);
            }
        }
        eval
    }

    /// Compiled policies held (how many, their bytes) and compiled.
    pub fn compiled_stats(&self) -> CompiledStats {
        self.inner.compiled.stats()
    }

    /// `domain`'s compiled policy, if the checker holds a fresh one, given
    /// to `f` (for tests and tools: what it decides, what it passes).
    pub fn with_compiled_policy<R>(&self, domain: &str, f: impl FnOnce(&CompiledPolicy) -> R) -> Option<R> {
        let cache = self.cache();
        let domain = crate::input::normalize_domain(domain);
        self.inner
            .compiled
            .with(&domain, |policy| policy.fresh(cache.now(), cache.generation()).then(|| f(policy)))
            .flatten()
    }

    /// [`Checker::check`] for callers without an async runtime (the C and
    /// Python layers, milters): blocks the calling thread until the result
    /// is known. A check its domain's compiled policy answers completes
    /// right here, as does one answered from the cache (on the first
    /// poll). A check that has to wait for DNS is driven on the calling
    /// thread itself, on a small current-thread runtime the thread makes
    /// on its first such wait (and drops when it exits), so an answer
    /// wakes the thread directly; speculative lookups run on the checker's
    /// own runtime.
    ///
    /// It may be called from any thread, also from inside a tokio runtime
    /// and from the checker's own threads (a [`Checker::check_callback`]
    /// callback): it then hands the thread's runtime duties over while it
    /// waits (or, on a current-thread runtime, waits on a helper thread), so
    /// nothing can wedge. Async code should still `.await` [`Checker::check`].
    pub fn check_blocking(&self, ip: IpAddr, mail_from: &str, helo: &str) -> Evaluation {
        self.check_owned_blocking(CheckRequest::mail_from(ip, mail_from, helo))
    }

    /// [`Checker::check_helo`], blocking. See [`Checker::check_blocking`].
    pub fn check_helo_blocking(&self, ip: IpAddr, helo: &str) -> Evaluation {
        self.check_owned_blocking(CheckRequest::helo(ip, helo))
    }

    /// [`Checker::check_request_blocking`] for a request of its own: a
    /// check its domain's compiled policy answers takes the request's
    /// strings rather than copying them.
    fn check_owned_blocking(&self, request: CheckRequest) -> Evaluation {
        match self.compiled_answer_owned(request) {
            Ok(eval) => eval,
            Err((request, compile)) => self.evaluate_blocking(&request, compile),
        }
    }

    /// [`Checker::compiled_answer`] taking the request; `Err` gives it back.
    fn compiled_answer_owned(&self, request: CheckRequest) -> Result<Evaluation, (CheckRequest, bool)> {
        let inner = &*self.inner;
        if !inner.compiled.enabled() || inner.policy.is_some() {
            return Err((request, false));
        }
        let cache = self.cache();
        let pinned = inner.compiled.pin();
        match pinned.get(request.domain()) {
            None => Err((request, true)),
            Some(policy) if !policy.fresh(cache.now(), cache.generation()) => Err((request, true)),
            Some(_) if inner.evaluator.options().trace => Err((request, false)),
            Some(policy) => policy.answer_owned(request, &inner.evaluator),
        }
    }

    /// [`Checker::check_request`], blocking. See [`Checker::check_blocking`].
    pub fn check_request_blocking(&self, request: &CheckRequest) -> Evaluation {
        match self.compiled_answer(request) {
            Ok(eval) => eval,
            Err(compile) => self.evaluate_blocking(request, compile),
        }
    }

    /// The evaluator's check of `request`, blocking; then
    /// [`Checker::after_evaluation`].
    fn evaluate_blocking(&self, request: &CheckRequest, compile: bool) -> Evaluation {
        // Pinned where it is built, and polled once before the deadline
        // wrapper exists: a warm check is done then, and moving a check's
        // state costs more than its work.
        let deadline = self.deadline_from_now();
        if let Some(policy) = &self.inner.policy {
            let work = std::pin::pin!(policy.check_within(&self.inner.evaluator, request, deadline));
            return self.inner.runtime.block_on(within_deadline(work, deadline, request));
        }
        let mut work = std::pin::pin!(self.inner.evaluator.run_check(request, deadline));
        if tokio::runtime::Handle::try_current().is_err()
            && let Poll::Ready(eval) = self.inner.runtime.poll_here(work.as_mut())
        {
            return self.after_evaluation(request, eval, compile, deadline);
        }
        let eval = self.inner.runtime.block_on(within_deadline(work, deadline, request));
        self.after_evaluation(request, eval, compile, deadline)
    }

    /// Starts a check on the calling thread and runs it as far as it goes
    /// without waiting: `Ok` with the evaluation when it is done (a check
    /// answered from the cache), `Err` with the check when it must wait for
    /// DNS. For callers that wait in slices: to look at signals between
    /// them, or to release a lock (such as Python's GIL) only while waiting.
    pub fn start(&self, request: CheckRequest) -> Result<Evaluation, WaitingCheck<'_>> {
        let (request, compile) = match self.compiled_answer_owned(request) {
            Ok(eval) => return Ok(eval),
            Err(back) => back,
        };
        let deadline = self.deadline_from_now();
        let evaluator = &self.inner.evaluator;
        let mut work: Pin<Box<dyn Future<Output = Evaluation> + Send + '_>> = match &self.inner.policy {
            None => Box::pin(async move {
                let eval = within_deadline(evaluator.run_check(&request, deadline), deadline, &request).await;
                self.after_evaluation(&request, eval, compile, deadline)
            }),
            Some(policy) => Box::pin(async move {
                within_deadline(policy.check_within(evaluator, &request, deadline), deadline, &request).await
            }),
        };
        match self.inner.runtime.poll_now(work.as_mut()) {
            Poll::Ready(eval) => Ok(eval),
            Poll::Pending => Err(WaitingCheck { runtime: &self.inner.runtime, work }),
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
    pub fn check_callback<F>(&self, ip: IpAddr, mail_from: &str, helo: &str, done: F) -> PendingCheck
    where
        F: FnOnce(Result<Evaluation, CheckPanicked>) + Send + 'static,
    {
        self.request_callback(CheckRequest::mail_from(ip, mail_from, helo), done)
    }

    /// [`Checker::check_callback`] for the HELO identity.
    pub fn check_helo_callback<F>(&self, ip: IpAddr, helo: &str, done: F) -> PendingCheck
    where
        F: FnOnce(Result<Evaluation, CheckPanicked>) + Send + 'static,
    {
        self.request_callback(CheckRequest::helo(ip, helo), done)
    }

    /// [`Checker::check_callback`] for any request.
    pub fn request_callback<F>(&self, request: CheckRequest, done: F) -> PendingCheck
    where
        F: FnOnce(Result<Evaluation, CheckPanicked>) + Send + 'static,
    {
        let checker = self.clone();
        let work = async move { checker.check_owned(request).await };
        let task = self
            .inner
            .runtime
            .spawn_with_callback(work, move |outcome| done(outcome.map_err(|_| CheckPanicked)));
        PendingCheck { task }
    }

    /// Evaluates a draft record as if `domain` published it (the rest of
    /// DNS as usual, through the checker's cache): try a change before
    /// making it. Otherwise as [`Checker::check_request`].
    pub async fn check_draft(&self, draft: &str, domain: &str, request: &CheckRequest) -> Evaluation {
        let overlay = Overlay::new(self.inner.evaluator.lookup(), domain, draft);
        let evaluator = Evaluator::new(overlay, self.options().clone());
        let deadline = self.deadline_from_now();
        within_deadline(evaluator.run_check(request, deadline), deadline, request).await
    }

    /// [`Checker::check_draft`], blocking; see [`Checker::check_blocking`].
    pub fn check_draft_blocking(&self, draft: &str, domain: &str, request: &CheckRequest) -> Evaluation {
        self.inner.runtime.block_on(self.check_draft(draft, domain, request))
    }

    /// Lints through the checker's DNS and shared cache (see
    /// [`crate::lint`]): what a domain's record gets wrong and what it
    /// authorizes, with the answers the checks themselves use (and leave
    /// cached for them). Over a zone, whether the domain publishes an
    /// obsolete SPF (type 99) record is read from its master files. Async,
    /// like [`Checker::check`].
    pub async fn lint(&self, request: &LintRequest, options: &LintOptions) -> LintReport {
        let lookup = self.inner.evaluator.lookup();
        let mut request = request.clone();
        if request.spf_rr_published.is_none()
            && let Some(zone) = lookup.upstream().zone()
            && let Some(domain) = request.domain_name()
        {
            request.spf_rr_published = Some(zone.spf_rr_names().contains(&domain));
        }
        Linter::new(lookup, options.clone()).lint(&request).await
    }

    /// [`Checker::lint`], blocking; see [`Checker::check_blocking`].
    pub fn lint_blocking(&self, request: &LintRequest, options: &LintOptions) -> LintReport {
        self.inner.runtime.block_on(self.lint(request, options))
    }
}

/// Runs `work` (an evaluation that watches `deadline` itself, and ends in
/// `temperror` with what it did so far) under a backstop timer
/// [`DEADLINE_BACKSTOP`] later, in case anything awaits outside the
/// evaluation's own watch. A warm check completes on its first poll and
/// arms no timer; the deadline counts from before that poll.
async fn within_deadline<F>(work: F, deadline: Option<Deadline>, request: &CheckRequest) -> Evaluation
where
    F: Future<Output = Evaluation>,
{
    let mut work = std::pin::pin!(work);
    if let Poll::Ready(eval) = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await {
        return eval;
    }
    let Some(deadline) = deadline else { return work.await };
    match tokio::time::timeout_at((deadline.at + DEADLINE_BACKSTOP).into(), work).await {
        Ok(eval) => eval,
        Err(_) => Evaluation::deadline_exceeded(request),
    }
}

/// A check that must wait for DNS, from [`Checker::start`]. Dropping it
/// cancels the check.
pub struct WaitingCheck<'c> {
    runtime: &'c CheckerRuntime,
    work: Pin<Box<dyn Future<Output = Evaluation> + Send + 'c>>,
}

impl std::fmt::Debug for WaitingCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingCheck").finish_non_exhaustive()
    }
}

impl WaitingCheck<'_> {
    /// Blocks at most `at_most` for the evaluation: `None` if the check is
    /// still waiting then (call again, or drop it to cancel).
    pub fn wait(&mut self, at_most: Duration) -> Option<Evaluation> {
        self.runtime.wait_for(&mut self.work, at_most)
    }

    /// Blocks until the evaluation is known (at most the check's deadline).
    pub fn finish(self) -> Evaluation {
        self.runtime.block_on(self.work)
    }
}

/// A check started with [`Checker::check_callback`], still running or done.
#[derive(Clone, Debug)]
pub struct PendingCheck {
    task: tokio::task::AbortHandle,
}

impl PendingCheck {
    /// Stops the check if it has not finished: its callback is not called,
    /// and its lookups are dropped (the cache forgets queries nobody waits
    /// for any more) on the checker's thread, a moment after this returns.
    /// Nothing happens if the check is done.
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

/// A policy is compiled after a check only if the check's deadline is at
/// least this far away (compiling a large include tree takes a few
/// milliseconds of CPU; see [`crate::eval::MAX_COMPILE_EVALUATIONS`]).
const COMPILE_MARGIN: Duration = Duration::from_millis(50);
