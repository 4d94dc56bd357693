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

    /// Runs `work` to its end from synchronous code, from any thread:
    ///
    /// - outside any tokio runtime: polls it once right here (a warm check
    ///   is then done) and otherwise blocks on this runtime;
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
                match self.poll_now(work.as_mut()) {
                    Poll::Ready(output) => output,
                    Poll::Pending => runtime.block_on(work),
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
        self.block_on(async { tokio::time::timeout(at_most, work).await.ok() })
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
