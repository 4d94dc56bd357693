//! The one owner of tokio. A [`Checker`](crate::Checker) holds a
//! [`CheckerRuntime`]: worker threads that drive DNS sockets and timers, and
//! a blocking pool for callbacks. Everything that runs a future from
//! synchronous code goes through here: the first poll on the caller's
//! thread (a warm check needs nothing else), blocking from any thread
//! without wedging the workers, waiting in slices (for callers that must
//! look at signals), callbacks, and shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::Error;

/// The worker threads of one checker.
#[derive(Debug)]
pub(crate) struct CheckerRuntime {
    /// `Option` only so that `Drop` can shut it down without blocking.
    runtime: Option<Runtime>,
}

impl CheckerRuntime {
    /// A runtime of `worker_threads` threads (at least one), named
    /// `fastspf-dns`, with I/O and time drivers.
    pub(crate) fn new(worker_threads: usize) -> Result<CheckerRuntime, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name("fastspf-dns")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(Arc::new(e)))?;
        Ok(CheckerRuntime { runtime: Some(runtime) })
    }

    fn runtime(&self) -> &Runtime {
        match self.runtime.as_ref() {
            Some(runtime) => runtime,
            None => unreachable!("the runtime lives as long as its owner"),
        }
    }

    /// A handle, for work spawned from elsewhere (speculative lookups).
    pub(crate) fn handle(&self) -> &Handle {
        self.runtime().handle()
    }

    /// Polls `work` once on the calling thread, inside the runtime's
    /// context (for the timers and sockets it may create).
    pub(crate) fn poll_now<F: Future + ?Sized>(&self, work: Pin<&mut F>) -> Poll<F::Output> {
        let _context = self.runtime().enter();
        work.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// Polls `work` once on the calling thread, outside any runtime, for a
    /// caller that then runs it to its end on this thread
    /// ([`Self::block_on`]): inside the context of the thread's own
    /// runtime ([`local_block_on`]), so that the sockets and timers of its
    /// first queries are waited for right here too, not by a worker;
    /// inside this runtime's if the thread has none. Work that may be
    /// waited for from another thread later must use [`Self::poll_now`].
    pub(crate) fn poll_here<F: Future + ?Sized>(&self, work: Pin<&mut F>) -> Poll<F::Output> {
        let mut work = Some(work);
        let polled = LOCAL
            .try_with(|local| {
                let runtime = local.as_ref()?;
                let _context = runtime.enter();
                work.take().map(|w| w.poll(&mut Context::from_waker(Waker::noop())))
            })
            .ok()
            .flatten();
        match (polled, work) {
            (Some(poll), _) => poll,
            (None, Some(work)) => self.poll_now(work),
            (None, None) => unreachable!("polled, or left for the fallback"),
        }
    }

    /// Runs `work` to its end from synchronous code, from any thread:
    ///
    /// - outside any tokio runtime: polls it once right here (a warm check
    ///   is then done) and otherwise drives it on this thread, on a
    ///   current-thread runtime of the thread's own ([`local_block_on`]):
    ///   the sockets and timers the work creates from then on are waited
    ///   for right here, so an answer wakes this thread directly, not a
    ///   worker that then wakes it (one thread switch per query, not two;
    ///   what started on the workers, speculative lookups among it, stays
    ///   there);
    /// - on a thread of a multi-thread runtime (this one's included: a
    ///   callback, a task of the caller's): hands that thread's runtime
    ///   duties to another thread while it blocks
    ///   ([`tokio::task::block_in_place`]), so no thread that drives DNS I/O
    ///   or timers is stuck behind it and nothing can wedge;
    /// - on a current-thread runtime, which cannot hand its duties over:
    ///   blocks on a short-lived helper thread instead.
    pub(crate) fn block_on<F>(&self, work: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self.runtime();
        match Handle::try_current() {
            Err(_) => {
                let mut work = std::pin::pin!(work);
                match self.poll_here(work.as_mut()) {
                    Poll::Ready(output) => output,
                    Poll::Pending => match local_block_on(work.as_mut()) {
                        Some(output) => output,
                        None => runtime.block_on(work),
                    },
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

    /// Waits at most `at_most` for `work` (blocking as [`Self::block_on`]
    /// does): `None` if it is not done by then, and then it can be waited
    /// for again, or dropped to cancel it.
    pub(crate) fn wait_for<F>(&self, work: &mut F, at_most: Duration) -> Option<F::Output>
    where
        F: Future + Send + Unpin,
        F::Output: Send,
    {
        // Not on this thread's own runtime: the work may be waited for
        // again later from another thread, and what it registered with a
        // thread's runtime would then be driven by nobody.
        let wait = async { tokio::time::timeout(at_most, work).await.ok() };
        match Handle::try_current() {
            Err(_) => self.runtime().block_on(wait),
            Ok(_) => self.block_on(wait),
        }
    }

    /// Spawns `work` as a task (a panic in it is caught by the runtime) and
    /// hands its output to `done` on the blocking pool: never the calling
    /// thread, never a thread that drives I/O or timers. If the task is
    /// aborted through the returned handle, `done` is not called.
    pub(crate) fn spawn_with_callback<W, D>(&self, work: W, done: D) -> tokio::task::AbortHandle
    where
        W: Future + Send + 'static,
        W::Output: Send + 'static,
        D: FnOnce(Result<W::Output, Panicked>) + Send + 'static,
    {
        let handle = self.handle().clone();
        let task = handle.spawn(work);
        let abort = task.abort_handle();
        self.handle().spawn(async move {
            let output = match task.await {
                Ok(output) => Ok(output),
                Err(error) if error.is_cancelled() => return,
                Err(_) => Err(Panicked),
            };
            drop(handle.spawn_blocking(move || done(output)));
        });
        abort
    }
}

thread_local! {
    /// The current-thread runtime [`local_block_on`] drives work on: built
    /// on a thread's first blocking wait, dropped when the thread exits
    /// (`None` if it could not be built).
    static LOCAL: Option<Runtime> = tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
}

/// Runs `work` to its end on the calling thread (which must not be in a
/// runtime), on the thread's own current-thread runtime: the thread waits
/// in that runtime's driver, so the readiness of the sockets and timers the
/// work creates while it runs wakes it directly. `None` (and `work`
/// untouched) when the thread has no such runtime (it could not be built,
/// or the thread is exiting). Everything the work registers with that
/// runtime is gone once it returns: the work is done by then (or dropped).
fn local_block_on<F: Future + ?Sized>(work: Pin<&mut F>) -> Option<F::Output> {
    let mut work = Some(work);
    LOCAL
        .try_with(|local| local.as_ref().map(|runtime| work.take().map(|w| runtime.block_on(w))))
        .ok()
        .flatten()
        .flatten()
}

/// A spawned task panicked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Panicked;

impl Drop for CheckerRuntime {
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
