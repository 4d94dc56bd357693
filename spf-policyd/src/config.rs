//! policyd-spf.conf, read as policyd-spf reads it, plus fastspf's own keys.
//!
//! The format (policyd-spf.conf(5)): one `Key = value` per line; `#` starts
//! a comment (also after a value); blank lines are ignored; keys and values
//! are case-sensitive (`Mail_From_reject = softfail` is not `Softfail`); the
//! last of repeated keys wins. Where policyd-spf silently ignores something
//! (an unknown key, a line without `=`, a value it does not know), fastspf
//! does what policyd-spf does and adds a warning naming it. Where policyd-spf
//! cannot start (a number that is not a number), neither does fastspf.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use spf_core::policy::{LocalPolicy, WideOpenPass};

/// Largest configuration file read: real ones are a few KB; a bigger file
/// is a mistake (a log or a binary named by accident).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The default of `skip_addresses`: the loopback networks (policyd-spf's).
pub const DEFAULT_SKIP_ADDRESSES: &str = "127.0.0.0/8,::ffff:127.0.0.0/104,::1";

/// The default `Reason_Message` (policyd-spf's).
pub const DEFAULT_REASON_MESSAGE: &str = "Message {rejectdefer} due to: {spf}. Please see {url}";

/// Largest `Lookup_Time`, `Whitelist_Lookup_Time` and `Request_Deadline`:
/// Postfix gives up on a policy service after `smtpd_policy_service_timeout`
/// (default 100 s), so more is never useful.
pub const MAX_SECONDS: u64 = 3_600;

/// Most simultaneous connections in daemon mode, the default of
/// `Max_Connections`: Postfix opens one per smtpd process
/// (`default_process_limit` 100), so this leaves room for 20 such servers.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2_048;

/// The most `Max_Connections` may be: each costs a file descriptor and a
/// few KB.
pub const MAX_CONNECTIONS_LIMIT: usize = 65_536;

/// The default of `Cache_Size`, the shared cache's entries (the library's
/// default).
pub const DEFAULT_CACHE_SIZE: usize = 100_000;

/// `Cache_Size` bounds: at least one entry, at most 10 million (about 10 GB
/// at the measured 1 KB per entry).
pub const MAX_CACHE_SIZE: usize = 10_000_000;

/// The default `Request_Deadline`: below Postfix's default
/// `smtpd_policy_service_timeout` of 100 s, so Postfix always gets an
/// answer from us before it gives up.
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(90);

/// What to reject for one identity (`HELO_reject`, `Mail_From_reject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectPolicy {
    /// Reject fail, softfail, neutral and permerror.
    SpfNotPass,
    /// Reject fail and softfail.
    Softfail,
    /// Reject fail.
    Fail,
    /// HELO: reject fail only for the null sender. Mail From: never reject.
    Null,
    /// Never reject: header only. Also what a value policyd-spf does not
    /// know does.
    False,
    /// Do not check this identity.
    NoCheck,
}

impl RejectPolicy {
    fn parse(value: &str) -> Option<RejectPolicy> {
        Some(match value {
            "SPF_Not_Pass" => RejectPolicy::SpfNotPass,
            "Softfail" => RejectPolicy::Softfail,
            "Fail" => RejectPolicy::Fail,
            "Null" => RejectPolicy::Null,
            "False" => RejectPolicy::False,
            "No_Check" => RejectPolicy::NoCheck,
            _ => return None,
        })
    }
}

/// Which header field to prepend (`Header_Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderType {
    /// `Received-SPF` (RFC 7208 §9.1).
    Spf,
    /// `Authentication-Results` (RFC 8601).
    Ar,
    /// None.
    None,
}

/// How fastspf-policyd treats a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Read and applied as policyd-spf does.
    Supported,
    /// Read and ignored, with a warning.
    Unsupported,
    /// fastspf's own (policyd-spf ignores it, so one file serves both).
    Fastspf,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Supported => "supported",
            Status::Unsupported => "not supported (warning)",
            Status::Fastspf => "fastspf only",
        })
    }
}

/// A configuration key: its name, how it is treated, what it does.
#[derive(Clone, Copy, Debug)]
pub struct KeyInfo {
    /// The key, as written in the file (case-sensitive).
    pub name: &'static str,
    /// How fastspf-policyd treats it.
    pub status: Status,
    /// What it does here.
    pub note: &'static str,
}

macro_rules! keys {
    ($($name:literal, $status:ident, $note:literal;)*) => {
        /// Every key fastspf-policyd knows (policyd-spf 3.0.4's and its own),
        /// in the order of policyd-spf.conf(5).
        pub const KEYS: &[KeyInfo] = &[$(KeyInfo { name: $name, status: Status::$status, note: $note },)*];
    };
}

keys! {
    "debugLevel", Supported, "0: errors only; 1 (default): one result line per check and one action line per decision; 2-5: also the config at start and each request; -1: nothing";
    "TestOnly", Supported, "1 (default): act; 0: never reject or defer, answer DUNNO instead (headers still prepended for accepted mail)";
    "defaultSeedOnly", Supported, "old name of TestOnly (warning, as in policyd-spf)";
    "HELO_reject", Supported, "SPF_Not_Pass, Softfail, Fail (default), Null, False, No_Check";
    "HELO_pass_restriction", Unsupported, "ignored: no restriction class is returned on a HELO pass";
    "Mail_From_reject", Supported, "SPF_Not_Pass, Softfail, Fail (default), False, No_Check; Null never rejects (it is a HELO setting)";
    "Mail_From_pass_restriction", Unsupported, "ignored: no restriction class is returned on a Mail From pass";
    "No_Mail", Unsupported, "ignored: rejections follow HELO_reject/Mail_From_reject";
    "Reject_Not_Pass_Domains", Supported, "neutral and softfail from these sender domains are rejected like fail";
    "PermError_reject", Supported, "True: reject permerror with 550 5.7.24; False (default): header only";
    "TempError_Defer", Supported, "True: defer temperror with 4.7.24 (defer_if_permit); False (default): header only";
    "Prospective", Unsupported, "ignored: the client address is always the one checked";
    "skip_addresses", Supported, "networks never checked (default 127.0.0.0/8,::ffff:127.0.0.0/104,::1): X-Comment header";
    "Whitelist", Supported, "networks treated as authorized: X-Comment header";
    "HELO_Whitelist", Supported, "HELO names treated as authorized when their A/AAAA records hold the client: X-Comment header";
    "Domain_Whitelist", Supported, "clients the SPF policy of these domains passes are treated as authorized: X-Comment header";
    "Domain_Whitelist_PTR", Supported, "clients whose validated PTR name is in these domains are treated as authorized: X-Comment header";
    "SPF_Enhanced_Status_Codes", Supported, "Yes (default): 5.7.23/5.7.24/4.7.24 (RFC 7372); No: no enhanced code";
    "Header_Type", Supported, "SPF (default): Received-SPF; AR: Authentication-Results; None: no header (DUNNO)";
    "Hide_Receiver", Supported, "No (default): the first recipient's domain is the receiver; anything else: <UNKNOWN>";
    "Authserv_Id", Supported, "the authserv-id of Authentication-Results; default (or HOSTNAME): this host's name";
    "Lookup_Time", Supported, "seconds one check (HELO or Mail From) may take, then temperror (default 20)";
    "Whitelist_Lookup_Time", Supported, "seconds the HELO/domain/PTR allow-list lookups may take together (default 10)";
    "Void_Limit", Supported, "void lookups allowed per check (default 2, RFC 7208 4.6.4)";
    "Mock", Unsupported, "ignored: no mock header is prepended";
    "QueueID", Supported, "True (default): action log lines start with the queue ID";
    "Reason_Message", Supported, "reject/defer text with {rejectdefer}, {spf}, {url} (default: policyd-spf's)";
    "Per_User", Unsupported, "ignored: one policy for every recipient";
    "Socket", Unsupported, "milter only; ignored by the policy service";
    "PidFile", Unsupported, "milter only; ignored by the policy service";
    "UserID", Unsupported, "milter only; ignored by the policy service";
    "UMask", Unsupported, "milter only; ignored by the policy service";
    "InternalHosts", Unsupported, "milter only; ignored by the policy service";
    "MacroList", Unsupported, "milter only; ignored by the policy service";
    "Nameservers", Fastspf, "resolvers to ask, IP[:PORT] list (default: /etc/resolv.conf's)";
    "DNS_Timeout", Fastspf, "seconds to wait for one DNS answer (default 5)";
    "Cache_Size", Fastspf, "entries of the DNS cache shared by every connection (default 100000)";
    "Request_Deadline", Fastspf, "seconds one policy request may take in all, then temperror (default 90: below Postfix's 100 s timeout)";
    "Max_Connections", Fastspf, "simultaneous connections in daemon mode (default 2048); more are closed at once";
    "Syslog_Ident", Fastspf, "the name log lines carry (default policyd-spf, so log watching keeps working)";
    "Wide_Open_Pass", Fastspf, "pass (default) or neutral: a pass from a policy that passes 2^24+ IPv4 addresses (or 1/65536 of IPv6) is treated as neutral and named";
    "Trusted_Forwarders", Fastspf, "domains whose SPF policy, when it passes the client, turns a Mail From fail into forwarded mail (not rejected, named)";
    "Best_Guess", Fastspf, "False (default), True (v=spf1 a/24 mx/24 ptr) or a record: a guess for domains without SPF, reported as a guess";
}

/// A configuration that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Everything the service reads from its configuration file.
#[derive(Clone, Debug)]
pub struct Config {
    /// `debugLevel`.
    pub debug_level: i64,
    /// `TestOnly = 0`: never reject or defer.
    pub test_only: bool,
    /// `HELO_reject`.
    pub helo_reject: RejectPolicy,
    /// `Mail_From_reject`.
    pub mail_from_reject: RejectPolicy,
    /// `Reject_Not_Pass_Domains` (lower case).
    pub reject_not_pass_domains: Vec<String>,
    /// `PermError_reject = True`.
    pub permerror_reject: bool,
    /// `TempError_Defer = True`.
    pub temperror_defer: bool,
    /// `SPF_Enhanced_Status_Codes` (not `No`).
    pub enhanced_status_codes: bool,
    /// `Header_Type`.
    pub header_type: HeaderType,
    /// `Hide_Receiver` (anything but `No`).
    pub hide_receiver: bool,
    /// `Authserv_Id`.
    pub authserv_id: String,
    /// `Lookup_Time`.
    pub lookup_time: Duration,
    /// `Whitelist_Lookup_Time`.
    pub whitelist_lookup_time: Duration,
    /// `Void_Limit`.
    pub void_limit: u32,
    /// `QueueID`.
    pub queue_id: bool,
    /// `Reason_Message`.
    pub reason_message: String,
    /// skip_addresses, the allow lists, forwarders, best guess, wide open.
    pub policy: LocalPolicy,
    /// `Nameservers` (empty: the system's).
    pub nameservers: Vec<SocketAddr>,
    /// `DNS_Timeout`.
    pub dns_timeout: Duration,
    /// `Cache_Size`.
    pub cache_size: usize,
    /// `Request_Deadline`.
    pub request_deadline: Duration,
    /// `Max_Connections`.
    pub max_connections: usize,
    /// `Syslog_Ident`.
    pub syslog_ident: String,
    /// What was ignored or guessed, one sentence each, naming the key and line.
    pub warnings: Vec<String>,
}

impl Config {
    /// The configuration without a file: every default.
    pub fn defaults() -> Config {
        // Infallible: the default list is valid.
        Config::parse("").unwrap_or_else(|e| unreachable!("defaults parse: {e}"))
    }

    /// Reads a file (at most [`MAX_CONFIG_BYTES`]).
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError(format!(
                "{}: larger than {MAX_CONFIG_BYTES} bytes; not a configuration file",
                path.display()
            )));
        }
        let text = String::from_utf8_lossy(&bytes);
        Config::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Parses the text of a configuration file.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        // Key -> (line number, value); the last occurrence wins.
        let mut values: BTreeMap<&'static str, (usize, String)> = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = match raw.find('#') {
                Some(i) => &raw[..i],
                None => raw,
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                warnings.push(format!("line {line_no}: {line:?} is not \"Key = value\"; ignored"));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match KEYS.iter().find(|k| k.name == key) {
                Some(info) => {
                    if let Some((previous, _)) = values.insert(info.name, (line_no, value.to_string())) {
                        warnings.push(format!(
                            "line {line_no}: {key} set again (line {previous}); the last one counts"
                        ));
                    }
                    match info.status {
                        Status::Unsupported => warnings.push(format!(
                            "line {line_no}: {key} is not supported by fastspf-policyd: {}",
                            info.note
                        )),
                        Status::Supported | Status::Fastspf => {}
                    }
                }
                None => {
                    let hint = KEYS
                        .iter()
                        .find(|k| k.name.eq_ignore_ascii_case(key))
                        .map(|k| format!(" (keys are case-sensitive: did you mean {}?)", k.name))
                        .unwrap_or_default();
                    warnings.push(format!(
                        "line {line_no}: unknown key {key}{hint}; ignored, as policyd-spf does"
                    ));
                }
            }
        }
        let get = |key: &str| values.get(key).map(|(line, value)| (*line, value.as_str()));
        let mut c = Config {
            debug_level: 1,
            test_only: false,
            helo_reject: RejectPolicy::Fail,
            mail_from_reject: RejectPolicy::Fail,
            reject_not_pass_domains: Vec::new(),
            permerror_reject: false,
            temperror_defer: false,
            enhanced_status_codes: true,
            header_type: HeaderType::Spf,
            hide_receiver: false,
            authserv_id: String::new(),
            lookup_time: Duration::from_secs(20),
            whitelist_lookup_time: Duration::from_secs(10),
            void_limit: 2,
            queue_id: true,
            reason_message: DEFAULT_REASON_MESSAGE.to_string(),
            policy: LocalPolicy::default(),
            nameservers: Vec::new(),
            dns_timeout: Duration::from_secs(5),
            cache_size: DEFAULT_CACHE_SIZE,
            request_deadline: DEFAULT_REQUEST_DEADLINE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            syslog_ident: "policyd-spf".to_string(),
            warnings: Vec::new(),
        };
        let int = |key: &str, line: usize, value: &str| -> Result<i64, ConfigError> {
            value.parse::<i64>().map_err(|_| {
                ConfigError(format!(
                    "line {line}: {key} = {value:?} is not a whole number (policyd-spf does not start either)"
                ))
            })
        };
        let seconds = |key: &str, line: usize, value: &str| -> Result<Duration, ConfigError> {
            let n = int(key, line, value)?;
            if n < 1 || n as u64 > MAX_SECONDS {
                return Err(ConfigError(format!(
                    "line {line}: {key} = {n} is outside 1..={MAX_SECONDS} seconds"
                )));
            }
            Ok(Duration::from_secs(n as u64))
        };
        if let Some((line, v)) = get("debugLevel") {
            c.debug_level = int("debugLevel", line, v)?;
        }
        if let Some((line, v)) = get("defaultSeedOnly") {
            warnings.push(format!("line {line}: defaultSeedOnly is the old name of TestOnly"));
            c.test_only = int("defaultSeedOnly", line, v)? == 0;
        }
        if let Some((line, v)) = get("TestOnly") {
            c.test_only = int("TestOnly", line, v)? == 0;
        }
        for (key, slot) in
            [("HELO_reject", &mut c.helo_reject), ("Mail_From_reject", &mut c.mail_from_reject)]
        {
            if let Some((line, v)) = get(key) {
                *slot = RejectPolicy::parse(v).unwrap_or_else(|| {
                    warnings.push(format!(
                        "line {line}: {key} = {v:?} is not SPF_Not_Pass, Softfail, Fail, Null, False or No_Check \
                         (values are case-sensitive); like policyd-spf, nothing is rejected for this identity"
                    ));
                    RejectPolicy::False
                });
            }
        }
        if let Some((line, v)) = get("Mail_From_reject")
            && c.mail_from_reject == RejectPolicy::Null
        {
            warnings.push(format!(
                "line {line}: Mail_From_reject = {v} is a HELO setting; like policyd-spf, no Mail From result is rejected"
            ));
        }
        if let Some((_, v)) = get("Reject_Not_Pass_Domains") {
            c.reject_not_pass_domains = v
                .split([',', ' '])
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
        }
        let boolean = |key: &str, warnings: &mut Vec<String>| -> Option<bool> {
            let (line, v) = get(key)?;
            if v != "True" && v != "False" {
                warnings.push(format!(
                    "line {line}: {key} = {v:?} is not True or False (case-sensitive); taken as False"
                ));
            }
            Some(v == "True")
        };
        if let Some(b) = boolean("PermError_reject", &mut warnings) {
            c.permerror_reject = b;
        }
        if let Some(b) = boolean("TempError_Defer", &mut warnings) {
            c.temperror_defer = b;
        }
        if let Some(b) = boolean("QueueID", &mut warnings) {
            c.queue_id = b;
        }
        if let Some((_, v)) = get("SPF_Enhanced_Status_Codes") {
            c.enhanced_status_codes = v != "No";
        }
        if let Some((line, v)) = get("Header_Type") {
            c.header_type = match v {
                "SPF" => HeaderType::Spf,
                "AR" => HeaderType::Ar,
                "None" => HeaderType::None,
                other => {
                    warnings.push(format!(
                        "line {line}: Header_Type = {other:?} is not SPF, AR or None (case-sensitive); Received-SPF is used"
                    ));
                    HeaderType::Spf
                }
            };
        }
        if let Some((_, v)) = get("Hide_Receiver") {
            c.hide_receiver = v != "No";
        }
        c.authserv_id = match get("Authserv_Id") {
            Some((_, v)) if !v.is_empty() && v != "HOSTNAME" => v.to_string(),
            _ => hostname(),
        };
        if let Some((line, v)) = get("Lookup_Time") {
            c.lookup_time = seconds("Lookup_Time", line, v)?;
        }
        if let Some((line, v)) = get("Whitelist_Lookup_Time") {
            c.whitelist_lookup_time = seconds("Whitelist_Lookup_Time", line, v)?;
        }
        if let Some((line, v)) = get("Void_Limit") {
            let n = int("Void_Limit", line, v)?;
            c.void_limit = u32::try_from(n)
                .ok()
                .filter(|n| *n <= 100)
                .ok_or_else(|| ConfigError(format!("line {line}: Void_Limit = {n} is outside 0..=100")))?;
        }
        if let Some((_, v)) = get("Reason_Message") {
            c.reason_message = v.to_string();
        }
        // Local policy.
        let policy_err = |key: &str, line: usize, e: spf_core::policy::PolicyError| {
            ConfigError(format!("line {line}: {key}: {e}"))
        };
        match get("skip_addresses") {
            Some((line, v)) => {
                c.policy.add_skip_networks(v).map_err(|e| policy_err("skip_addresses", line, e))?
            }
            None => c
                .policy
                .add_skip_networks(DEFAULT_SKIP_ADDRESSES)
                .map_err(|e| policy_err("skip_addresses", 0, e))?,
        }
        type Adder = fn(&mut LocalPolicy, &str) -> Result<(), spf_core::policy::PolicyError>;
        let adders: [(&str, Adder); 5] = [
            ("Whitelist", LocalPolicy::add_allow_networks),
            ("HELO_Whitelist", LocalPolicy::add_allow_helo),
            ("Domain_Whitelist", LocalPolicy::add_allow_spf_domains),
            ("Domain_Whitelist_PTR", LocalPolicy::add_allow_ptr_domains),
            ("Trusted_Forwarders", LocalPolicy::add_trusted_forwarders),
        ];
        for (key, add) in adders {
            if let Some((line, v)) = get(key) {
                add(&mut c.policy, v).map_err(|e| policy_err(key, line, e))?;
            }
        }
        if let Some((line, v)) = get("Best_Guess") {
            let record = match v {
                "False" | "" => None,
                "True" => Some(spf_core::policy::BEST_GUESS_RECORD),
                record => Some(record),
            };
            c.policy.set_best_guess(record).map_err(|e| policy_err("Best_Guess", line, e))?;
        }
        if let Some((line, v)) = get("Wide_Open_Pass") {
            c.policy.wide_open = match v {
                "pass" | "Pass" => WideOpenPass::Pass,
                "neutral" | "Neutral" => WideOpenPass::Neutral,
                other => {
                    return Err(ConfigError(format!(
                        "line {line}: Wide_Open_Pass = {other:?} is not pass or neutral"
                    )));
                }
            };
        }
        // fastspf's own.
        if let Some((line, v)) = get("Nameservers") {
            for item in v.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
                let addr = spf_core::dns::parse_nameserver(item)
                    .map_err(|e| ConfigError(format!("line {line}: Nameservers: {e}")))?;
                c.nameservers.push(addr);
            }
        }
        if let Some((line, v)) = get("DNS_Timeout") {
            c.dns_timeout = seconds("DNS_Timeout", line, v)?;
        }
        if let Some((line, v)) = get("Cache_Size") {
            let n = int("Cache_Size", line, v)?;
            c.cache_size =
                usize::try_from(n).ok().filter(|n| (1..=MAX_CACHE_SIZE).contains(n)).ok_or_else(|| {
                    ConfigError(format!("line {line}: Cache_Size = {n} is outside 1..={MAX_CACHE_SIZE}"))
                })?;
        }
        if let Some((line, v)) = get("Request_Deadline") {
            c.request_deadline = seconds("Request_Deadline", line, v)?;
        }
        if let Some((line, v)) = get("Max_Connections") {
            let n = int("Max_Connections", line, v)?;
            c.max_connections = usize::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_CONNECTIONS_LIMIT).contains(n))
                .ok_or_else(|| {
                ConfigError(format!(
                    "line {line}: Max_Connections = {n} is outside 1..={MAX_CONNECTIONS_LIMIT}"
                ))
            })?;
        }
        if let Some((line, v)) = get("Syslog_Ident") {
            if v.is_empty()
                || v.len() > 48
                || !v.bytes().all(|b| b.is_ascii_graphic() && b != b'[' && b != b':')
            {
                return Err(ConfigError(format!(
                    "line {line}: Syslog_Ident = {v:?}: 1-48 printable characters, no [ or :"
                )));
            }
            c.syslog_ident = v.to_string();
        }
        c.warnings = warnings;
        Ok(c)
    }

    /// Whether anything in `other` needs a new checker (DNS, cache, limits).
    pub fn same_checker(&self, other: &Config) -> bool {
        self.nameservers == other.nameservers
            && self.dns_timeout == other.dns_timeout
            && self.cache_size == other.cache_size
            && self.lookup_time == other.lookup_time
            && self.void_limit == other.void_limit
    }
}

/// This host's name (`gethostname`), or `localhost`.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text).expect("config parses")
    }

    #[test]
    fn debians_shipped_file() {
        let c = parse(
            "#  For a fully commented sample config file see policyd-spf.conf.commented\n\n\
             debugLevel = 1 \nTestOnly = 1\n\nHELO_reject = Fail\nMail_From_reject = Fail\n\n\
             PermError_reject = False\nTempError_Defer = False\n\n\
             skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1\n",
        );
        assert_eq!(c.debug_level, 1);
        assert!(!c.test_only);
        assert_eq!((c.helo_reject, c.mail_from_reject), (RejectPolicy::Fail, RejectPolicy::Fail));
        assert!(!c.permerror_reject && !c.temperror_defer);
        assert!(c.policy.skip_networks.contains("127.0.0.1".parse().expect("ip")));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn defaults_match_policyd_spf() {
        let c = Config::defaults();
        assert_eq!(c.lookup_time, Duration::from_secs(20));
        assert_eq!(c.void_limit, 2);
        assert_eq!(c.header_type, HeaderType::Spf);
        assert!(!c.hide_receiver && c.enhanced_status_codes && c.queue_id);
        assert!(c.policy.skip_networks.contains("::1".parse().expect("ip")));
        assert_eq!(c.reason_message, DEFAULT_REASON_MESSAGE);
    }

    #[test]
    fn comments_whitespace_and_repeats() {
        let c = parse("  Mail_From_reject=Softfail # a comment\nMail_From_reject = SPF_Not_Pass\n");
        assert_eq!(c.mail_from_reject, RejectPolicy::SpfNotPass);
        assert!(c.warnings.iter().any(|w| w.contains("set again")), "{:?}", c.warnings);
    }

    #[test]
    fn unknown_keys_and_values_warn_and_behave_like_policyd_spf() {
        let c = parse(
            "mail_from_reject = Softfail\nBogus = 1\ngarbage\nMail_From_reject = softfail\nMock = True\n",
        );
        assert_eq!(
            c.mail_from_reject,
            RejectPolicy::False,
            "case-sensitive values: softfail rejects nothing"
        );
        let w = c.warnings.join("\n");
        assert!(
            w.contains(
                "unknown key mail_from_reject (keys are case-sensitive: did you mean Mail_From_reject?)"
            ),
            "{w}"
        );
        assert!(w.contains("unknown key Bogus"), "{w}");
        assert!(w.contains("\"garbage\" is not \"Key = value\""), "{w}");
        assert!(w.contains("Mail_From_reject = \"softfail\" is not"), "{w}");
        assert!(w.contains("Mock is not supported"), "{w}");
    }

    #[test]
    fn booleans_are_exact() {
        assert!(parse("PermError_reject = True").permerror_reject);
        let c = parse("PermError_reject = true");
        assert!(!c.permerror_reject);
        assert!(c.warnings[0].contains("not True or False"));
        assert!(parse("Hide_Receiver = no").hide_receiver, "anything but No hides");
        assert!(!parse("Hide_Receiver = No").hide_receiver);
        assert!(parse("TestOnly = 0").test_only);
        assert!(parse("defaultSeedOnly = 0").test_only);
    }

    #[test]
    fn numbers_that_are_not_numbers_stop_the_service() {
        assert!(Config::parse("TestOnly = no").is_err());
        assert!(Config::parse("Lookup_Time = abc").is_err());
        assert!(Config::parse("Lookup_Time = 0").is_err());
        assert!(Config::parse(&format!("Lookup_Time = {}", MAX_SECONDS + 1)).is_err());
        assert_eq!(parse(&format!("Lookup_Time = {MAX_SECONDS}")).lookup_time.as_secs(), MAX_SECONDS);
        assert!(Config::parse("Void_Limit = 101").is_err());
        assert_eq!(parse("Void_Limit = 100").void_limit, 100);
        assert!(Config::parse(&format!("Max_Connections = {}", MAX_CONNECTIONS_LIMIT + 1)).is_err());
        assert_eq!(
            parse(&format!("Max_Connections = {MAX_CONNECTIONS_LIMIT}")).max_connections,
            MAX_CONNECTIONS_LIMIT
        );
        assert!(Config::parse("Cache_Size = 0").is_err());
        assert!(Config::parse("skip_addresses = 10.0.0.0/33").is_err());
        assert!(Config::parse("Wide_Open_Pass = maybe").is_err());
        assert!(Config::parse("Syslog_Ident = a[b").is_err());
    }

    #[test]
    fn fastspf_keys() {
        let c = parse(
            "Nameservers = 127.0.0.1:5300, ::1\nCache_Size = 500\nWide_Open_Pass = neutral\n\
             Trusted_Forwarders = fwd.example\nBest_Guess = True\nHeader_Type = AR\nAuthserv_Id = mx.example\n",
        );
        assert_eq!(c.nameservers.len(), 2);
        assert_eq!(c.nameservers[1].port(), 53);
        assert_eq!(c.cache_size, 500);
        assert_eq!(c.policy.wide_open, WideOpenPass::Neutral);
        assert_eq!(c.policy.trusted_forwarders, ["fwd.example"]);
        assert_eq!(c.policy.best_guess.as_deref(), Some(spf_core::policy::BEST_GUESS_RECORD));
        assert_eq!((c.header_type, c.authserv_id.as_str()), (HeaderType::Ar, "mx.example"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn every_key_is_documented_once() {
        let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
