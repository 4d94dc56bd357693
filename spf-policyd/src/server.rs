//! Connections: the daemon's listeners (Unix, TCP, systemd sockets), spawn
//! mode's standard input and output, the bounds on both, SIGTERM and SIGHUP.

use std::os::fd::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::decide::{Decision, Engine};
use crate::log::{Level, Logger};
use crate::protocol::{self, IDLE_TIMEOUT, Read, WRITE_TIMEOUT};

/// How long SIGTERM waits for requests in progress before exiting anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (out of file descriptors): the failure
/// repeats at once otherwise, and the log would fill.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    engine: RwLock<Arc<Engine>>,
    /// The log.
    pub log: Logger,
    config_path: Option<PathBuf>,
    /// Second (since start) of the last "too many connections" line.
    refused_logged: AtomicU64,
    started: std::time::Instant,
}

impl Shared {
    /// Shares `engine`; `config_path` is read again on SIGHUP.
    pub fn new(engine: Engine, log: Logger, config_path: Option<PathBuf>) -> Shared {
        Shared {
            engine: RwLock::new(Arc::new(engine)),
            log,
            config_path,
            refused_logged: AtomicU64::new(u64::MAX),
            started: std::time::Instant::now(),
        }
    }

    /// The engine now in use.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the configuration file again and swaps the engine in; on any
    /// error the running configuration stays.
    pub fn reload(&self) {
        let Some(path) = &self.config_path else {
            self.log.log(Level::Warning, "SIGHUP: no configuration file to read again");
            return;
        };
        let config = match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                self.log.log(Level::Error, &format!("SIGHUP: configuration not reloaded: {e}"));
                return;
            }
        };
        for w in &config.warnings {
            self.log.log(Level::Warning, &format!("{}: {w}", path.display()));
        }
        let old = self.engine();
        if config.max_connections != old.config.max_connections
            || config.syslog_ident != old.config.syslog_ident
        {
            self.log.log(
                Level::Warning,
                "SIGHUP: Max_Connections and Syslog_Ident take effect at the next start",
            );
        }
        let level = config.debug_level;
        match Engine::new(config, Some(&old)) {
            Ok(engine) => {
                *self.engine.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(engine);
                self.log.set_level(level);
                self.log.log(Level::Info, &format!("configuration reloaded from {}", path.display()));
            }
            Err(e) => self.log.log(Level::Error, &format!("SIGHUP: configuration not reloaded: {e}")),
        }
    }
}

/// Serves one connection: requests until the client closes, goes idle for
/// [`IDLE_TIMEOUT`], breaks the protocol beyond repair, or `shutdown` is
/// signalled between requests.
pub async fn serve_connection<R, W>(
    shared: Arc<Shared>,
    reader: R,
    mut writer: W,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = reader;
    // The last transaction seen: one HELO and one Mail From check per
    // `instance`, however many recipients.
    let mut last: Option<(String, Decision)> = None;
    loop {
        let read = tokio::select! {
            read = protocol::read_request(&mut reader, IDLE_TIMEOUT) => read,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let log = &shared.log;
        let decision = match read {
            Read::Request(request) => {
                if request.request.as_deref() != Some("smtpd_access_policy") {
                    log.log(
                        Level::Warning,
                        &format!(
                            "request={:?} is not smtpd_access_policy: dunno",
                            crate::decide::clean(request.request.as_deref().unwrap_or("(missing)"), 64)
                        ),
                    );
                    Decision { action: "dunno".to_string(), prepends: false }
                } else {
                    match (&request.instance, &last) {
                        (Some(instance), Some((seen, decision)))
                            if instance == seen && !instance.is_empty() =>
                        {
                            decision.repeated()
                        }
                        _ => {
                            let engine = shared.engine();
                            let decision = engine.decide(&request, log).await;
                            last = request.instance.clone().map(|i| (i, decision.clone()));
                            decision
                        }
                    }
                }
            }
            Read::Invalid(why) => {
                log.log(Level::Warning, &format!("invalid policy request: {why}: defer_if_permit"));
                Decision {
                    action: format!("defer_if_permit 4.7.0 invalid policy request: {why}"),
                    prepends: false,
                }
            }
            Read::Closed => return,
            Read::ClosedMidRequest(bytes) => {
                log.log(
                    Level::Warning,
                    &format!("client closed the connection in the middle of a request ({bytes} bytes)"),
                );
                return;
            }
            Read::TimedOut { mid_request } => {
                let level = if mid_request { Level::Warning } else { Level::Debug };
                let what = if mid_request { "a request that did not end" } else { "an idle connection" };
                log.log(level, &format!("closing {what} (timeout)"));
                return;
            }
            Read::Error(e) => {
                log.log(Level::Warning, &format!("read error: {e}"));
                return;
            }
        };
        let answer = protocol::answer(&decision.action);
        let write = async {
            writer.write_all(&answer).await?;
            writer.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                log.log(Level::Warning, &format!("write error: {e}"));
                return;
            }
            Err(_) => {
                log.log(Level::Warning, "client did not read its answer (timeout)");
                return;
            }
        }
    }
}

/// A listening socket systemd passed, before the runtime runs.
#[derive(Debug)]
pub enum StdListener {
    /// TCP.
    Tcp(std::net::TcpListener),
    /// A Unix stream socket.
    Unix(std::os::unix::net::UnixListener),
}

/// A listening socket.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(tokio::net::TcpListener),
    /// A Unix stream socket; the path is removed at exit when we made it.
    Unix(tokio::net::UnixListener, Option<PathBuf>),
}

impl Listener {
    /// Binds `spec`: `unix:PATH`, `inet:HOST:PORT` or `HOST:PORT`.
    pub fn bind(spec: &str) -> Result<Listener, String> {
        if let Some(path) = spec.strip_prefix("unix:") {
            let path = Path::new(path);
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt as _;
                if !meta.file_type().is_socket() {
                    return Err(format!("{}: exists and is not a socket", path.display()));
                }
                // A socket left by an earlier run: nobody accepts on it.
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(format!("{}: another process is listening there", path.display()));
                }
                std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            let listener =
                tokio::net::UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
            use std::os::unix::fs::PermissionsExt as _;
            // Postfix's smtpd (user postfix) connects; the directory (e.g.
            // Postfix's private/, mode 0700) is what keeps others out.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(Listener::Unix(listener, Some(path.to_path_buf())));
        }
        let addr = spec.strip_prefix("inet:").unwrap_or(spec);
        let std_listener = std::net::TcpListener::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        std_listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        tokio::net::TcpListener::from_std(std_listener).map(Listener::Tcp).map_err(|e| e.to_string())
    }

    /// A socket from [`Listener::from_systemd`], inside the runtime.
    pub fn from_std(listener: StdListener) -> Result<Listener, String> {
        match listener {
            StdListener::Unix(l) => tokio::net::UnixListener::from_std(l)
                .map(|l| Listener::Unix(l, None))
                .map_err(|e| e.to_string()),
            StdListener::Tcp(l) => {
                tokio::net::TcpListener::from_std(l).map(Listener::Tcp).map_err(|e| e.to_string())
            }
        }
    }

    /// The sockets systemd passed (`LISTEN_PID`, `LISTEN_FDS`, from fd 3:
    /// sd_listen_fds(3)); empty when none were passed to this process.
    /// Called before any thread starts (it edits the environment).
    pub fn from_systemd() -> Result<Vec<StdListener>, String> {
        let pid_ok =
            std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
        let count: RawFd = match std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()) {
            Some(n) if pid_ok && n > 0 => n,
            _ => return Ok(Vec::new()),
        };
        // SAFETY: unsetenv before any thread reads the environment (called
        // from main before the runtime starts).
        unsafe {
            std::env::remove_var("LISTEN_PID");
            std::env::remove_var("LISTEN_FDS");
            std::env::remove_var("LISTEN_FDNAMES");
        }
        let mut out = Vec::new();
        for fd in 3..3 + count.min(64) {
            let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: addr/len describe a valid, writable sockaddr_storage.
            let rc = unsafe { libc::getsockname(fd, (&raw mut addr).cast(), &mut len) };
            if rc != 0 {
                return Err(format!("systemd socket fd {fd}: not a socket"));
            }
            match i32::from(addr.ss_family) {
                libc::AF_UNIX => {
                    // SAFETY: systemd passed this fd to us; we own it now.
                    let l = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
                    l.set_nonblocking(true).map_err(|e| e.to_string())?;
                    out.push(StdListener::Unix(l));
                }
                libc::AF_INET | libc::AF_INET6 => {
                    // SAFETY: as above.
                    let l = unsafe { std::net::TcpListener::from_raw_fd(fd) };
                    l.set_nonblocking(true).map_err(|e| e.to_string())?;
                    out.push(StdListener::Tcp(l));
                }
                family => return Err(format!("systemd socket fd {fd}: unsupported address family {family}")),
            }
        }
        Ok(out)
    }

    /// Where it listens, for the log.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => {
                l.local_addr().map(|a| format!("inet:{a}")).unwrap_or_else(|_| "inet:?".into())
            }
            Listener::Unix(l, _) => l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| format!("unix:{}", p.display())))
                .unwrap_or_else(|| "unix:?".into()),
        }
    }
}

/// Runs the daemon until SIGTERM (or SIGINT): accepts on every listener,
/// at most `Max_Connections` at once (more are closed at once, with a log
/// line at most once a second), reloads on SIGHUP. Returns once the
/// connections are done or [`SHUTDOWN_GRACE`] passed.
pub async fn run_daemon(shared: Arc<Shared>, listeners: Vec<Listener>) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let max = shared.engine().config.max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut remove = Vec::new();
    for listener in listeners {
        shared.log.log(Level::Info, &format!("listening on {}", listener.describe()));
        if let Listener::Unix(_, Some(path)) = &listener {
            remove.push(path.clone());
        }
        tokio::spawn(accept_loop(Arc::clone(&shared), listener, Arc::clone(&slots), stop_rx.clone()));
    }
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => shared.reload(),
        }
    }
    shared.log.log(Level::Info, "stopping: no new connections; finishing requests in progress");
    let _ = stop_tx.send(true);
    for path in remove {
        let _ = std::fs::remove_file(path);
    }
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await.is_err() {
        shared.log.log(Level::Warning, "stopping with requests still in progress (grace period over)");
    }
    shared.log.log(Level::Info, "stopped");
    Ok(())
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: Listener,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = accept(&listener) => accepted,
        };
        let (reader, writer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                shared.log.log(Level::Error, &format!("accept failed: {e}"));
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            let second = shared.started.elapsed().as_secs();
            if shared.refused_logged.swap(second, Ordering::Relaxed) != second {
                let max = shared.engine().config.max_connections;
                shared.log.log(
                    Level::Warning,
                    &format!("too many connections (Max_Connections = {max}): closing new ones"),
                );
            }
            drop((reader, writer));
            continue;
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_connection(shared, BufReader::new(reader), writer, stop).await;
            drop(permit);
        });
    }
}

type Reader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
type Writer = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

async fn accept(listener: &Listener) -> std::io::Result<(Reader, Writer)> {
    Ok(match listener {
        Listener::Tcp(l) => {
            let (stream, _) = l.accept().await?;
            let _ = stream.set_nodelay(true);
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        }
        Listener::Unix(l, _) => {
            let (stream, _) = l.accept().await?;
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        }
    })
}

/// Spawn mode: one connection on standard input and output (Postfix's
/// spawn(8) connects both to the client), until it closes or SIGTERM.
pub async fn run_spawned(shared: Arc<Shared>) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let serve = serve_connection(
        Arc::clone(&shared),
        BufReader::new(tokio::io::stdin()),
        tokio::io::stdout(),
        stop_rx,
    );
    tokio::pin!(serve);
    tokio::select! {
        () = &mut serve => {}
        _ = term.recv() => {
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, serve).await;
        }
    }
    Ok(())
}

/// Raises the soft limit of open files to the hard limit: each connection
/// is a file descriptor, and the default soft limit (1024) is below the
/// default `Max_Connections`.
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: limit is a valid rlimit to fill in / read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
