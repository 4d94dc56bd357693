//! Integration tests for spf-core (one binary; modules by topic).

mod cache;
mod compiled;
mod headers;
mod hostile;
mod issue_14;
mod lint;
mod local_policy;
mod miss_path;
mod properties;
mod real_dns;
mod speculation;
mod trace;
mod zone_file;

/// A clock that moves only when told to (the cache's TTLs are tested with
/// it, without sleeping).
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<std::time::Instant>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> ManualClock {
        ManualClock { now: std::sync::Mutex::new(std::time::Instant::now()) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl spf_core::dns::Clock for ManualClock {
    fn now(&self) -> std::time::Instant {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
