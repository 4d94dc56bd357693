//! Log lines: to standard error (journald under systemd) in daemon mode, to
//! syslog in spawn mode (where standard error is the Postfix connection).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Longest log line written; longer ones are cut (and marked). Values in
/// them come from clients and DNS.
pub const MAX_LOG_LINE: usize = 2_048;

/// syslog facility `mail` (2) and severities (RFC 5424 6.2.1).
const FACILITY_MAIL: u8 = 2;

/// How important a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Errors: always logged unless `debugLevel = -1`.
    Error,
    /// Warnings about the configuration and bad input: logged at `debugLevel` 0 and up.
    Warning,
    /// Decisions: `debugLevel` 1 and up.
    Info,
    /// Requests and configuration dumps: `debugLevel` 2 and up.
    Debug,
}

impl Level {
    fn severity(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warning => 4,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }

    /// The least `debugLevel` that logs this level.
    fn threshold(self) -> i64 {
        match self {
            Level::Error | Level::Warning => 0,
            Level::Info => 1,
            Level::Debug => 2,
        }
    }
}

/// Where lines go.
#[derive(Debug)]
pub enum Sink {
    /// One line each to standard error.
    Stderr,
    /// RFC 3164 datagrams to a syslog socket (`/dev/log`).
    Syslog {
        /// The socket's path.
        path: PathBuf,
        /// Connected lazily; `None` after a failure (tried again next line).
        socket: Mutex<Option<UnixDatagram>>,
    },
    /// Nowhere.
    Discard,
}

/// The logger: a sink, a level, a name.
#[derive(Debug)]
pub struct Logger {
    sink: Sink,
    ident: String,
    level: std::sync::atomic::AtomicI64,
}

impl Logger {
    /// A logger writing to `sink` as `ident`.
    pub fn new(sink: Sink, ident: &str, level: i64) -> Logger {
        Logger { sink, ident: ident.to_string(), level: std::sync::atomic::AtomicI64::new(level) }
    }

    /// A syslog sink for `path`.
    pub fn syslog(path: &Path) -> Sink {
        Sink::Syslog { path: path.to_path_buf(), socket: Mutex::new(None) }
    }

    /// Changes `debugLevel` (on reload).
    pub fn set_level(&self, level: i64) {
        self.level.store(level, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether lines of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        let configured = self.level.load(std::sync::atomic::Ordering::Relaxed);
        configured >= 0 && configured >= level.threshold()
    }

    /// Writes one line (printable ASCII only; cut at [`MAX_LOG_LINE`]).
    pub fn log(&self, level: Level, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let mut text = String::with_capacity(message.len().min(MAX_LOG_LINE));
        for c in message.chars() {
            if text.len() >= MAX_LOG_LINE {
                text.push_str("...");
                break;
            }
            text.push(if (' '..='~').contains(&c) { c } else { '?' });
        }
        match &self.sink {
            Sink::Stderr => {
                use std::io::Write as _;
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            }
            Sink::Syslog { path, socket } => {
                let pri = FACILITY_MAIL * 8 + level.severity();
                let datagram = format!("<{pri}>{}[{}]: {text}", self.ident, std::process::id());
                let mut socket = socket.lock().unwrap_or_else(|e| e.into_inner());
                if socket.is_none() {
                    // Non-blocking: a syslog daemon that does not read must not
                    // stall decisions (a line it has no room for is lost).
                    *socket = UnixDatagram::unbound()
                        .and_then(|s| s.connect(path).and_then(|()| s.set_nonblocking(true)).map(|()| s))
                        .ok();
                }
                if let Some(s) = socket.as_ref()
                    && let Err(e) = s.send(datagram.as_bytes())
                    && e.kind() != std::io::ErrorKind::WouldBlock
                {
                    *socket = None;
                }
            }
            Sink::Discard => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_datagrams_and_levels() {
        let dir = std::env::temp_dir().join(format!("fastspf-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).expect("bind");
        let logger = Logger::new(Logger::syslog(&path), "policyd-spf", 1);
        logger.log(Level::Info, "Fail; identity=mailfrom; x=\u{7}\u{e9}");
        logger.log(Level::Debug, "not at level 1");
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).expect("recv");
        let got = std::str::from_utf8(&buf[..n]).expect("utf8");
        assert_eq!(got, format!("<22>policyd-spf[{}]: Fail; identity=mailfrom; x=??", std::process::id()));
        server.set_nonblocking(true).expect("nonblocking");
        assert!(server.recv(&mut buf).is_err(), "debug lines are not written at level 1");
        let long = "x".repeat(MAX_LOG_LINE * 2);
        logger.log(Level::Error, &long);
        server.set_nonblocking(false).expect("blocking");
        let n = server.recv(&mut buf).expect("recv");
        assert!(n < MAX_LOG_LINE + 64 && buf[..n].ends_with(b"..."));
        logger.set_level(-1);
        assert!(!logger.enabled(Level::Error));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
