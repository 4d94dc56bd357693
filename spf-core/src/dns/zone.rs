//! An in-memory zone: answers lookups from data built in code or loaded from
//! RFC 1035 master files (the format BIND, NSD and Knot keep), for offline
//! checks, tests and demos.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use hickory_proto::rr::{Name, RData, RecordType as HickoryType};
use hickory_proto::serialize::txt::Parser;

use super::{Answer, Lookup, LookupError, LookupResult, RecordType, Records, TempFailure, TxtRecords};
use crate::Error;

/// Default TTL of records added in code.
const DEFAULT_TTL: u32 = 3600;
/// Longest CNAME chain followed.
const MAX_CNAME_HOPS: usize = 8;
/// Lookups kept in the query log (the counter counts them all).
const MAX_LOG: usize = 4096;

/// Records of one type at one name, as added.
#[derive(Debug)]
struct RrSet<T> {
    items: Vec<T>,
    ttl: u32,
}

impl<T> Default for RrSet<T> {
    fn default() -> Self {
        RrSet { items: Vec::new(), ttl: 0 }
    }
}

impl<T> RrSet<T> {
    fn push(&mut self, item: T, ttl: u32) {
        self.ttl = if self.items.is_empty() { ttl } else { self.ttl.min(ttl) };
        self.items.push(item);
    }
}

/// Everything at one owner name.
#[derive(Debug, Default)]
struct Node {
    txt: RrSet<Vec<Vec<u8>>>,
    a: RrSet<Ipv4Addr>,
    aaaa: RrSet<Ipv6Addr>,
    mx: RrSet<(u16, Box<str>)>,
    ptr: RrSet<Box<str>>,
    cname: Option<Box<str>>,
    timeout: bool,
    /// An obsolete SPF (type 99) RR was published here.
    spf_rr: bool,
    /// Answers built on first lookup and shared by every later one (the TXT
    /// answer caches its parsed SPF record).
    built: OnceLock<BuiltNode>,
}

#[derive(Debug)]
struct BuiltNode {
    txt: Option<Answer>,
    a: Option<Answer>,
    aaaa: Option<Answer>,
    mx: Option<Answer>,
    ptr: Option<Answer>,
}

impl Node {
    fn built(&self) -> &BuiltNode {
        self.built.get_or_init(|| {
            let answer = |records: Records, ttl| (!records.is_empty()).then_some(Answer { records, ttl });
            let mut mx = self.mx.items.clone();
            mx.sort_by_key(|(pref, _)| *pref);
            BuiltNode {
                txt: answer(Records::Txt(Arc::new(TxtRecords::new(self.txt.items.clone()))), self.txt.ttl),
                a: answer(Records::A(self.a.items.clone().into()), self.a.ttl),
                aaaa: answer(Records::Aaaa(self.aaaa.items.clone().into()), self.aaaa.ttl),
                mx: answer(Records::Mx(mx.into_iter().map(|(_, n)| n).collect()), self.mx.ttl),
                ptr: answer(Records::Ptr(self.ptr.items.clone().into()), self.ptr.ttl),
            }
        })
    }

    fn answer(&self, rtype: RecordType) -> Option<&Answer> {
        let built = self.built();
        match rtype {
            RecordType::Txt => built.txt.as_ref(),
            RecordType::A => built.a.as_ref(),
            RecordType::Aaaa => built.aaaa.as_ref(),
            RecordType::Mx => built.mx.as_ref(),
            RecordType::Ptr => built.ptr.as_ref(),
        }
    }
}

/// An in-memory zone implementing [`Lookup`].
///
/// Names are case-insensitive; a name exists when it owns any record (of
/// any type), was added with [`Zone::add_name`], or is an ancestor of one
/// (an empty non-terminal). Queries for names that do not exist give
/// `NxDomain`; for existing names without records of the type, `NoData`.
/// Every lookup is counted, so tests can assert how many queries a check sent.
#[derive(Debug, Default)]
pub struct Zone {
    nodes: HashMap<Box<str>, Node>,
    /// Names that exist without records of their own (ancestors, `add_name`).
    existing: HashSet<Box<str>>,
    ttl: Option<u32>,
    negative_ttl: Option<u32>,
    count: AtomicU64,
    log: Mutex<Vec<(String, RecordType)>>,
}

/// Lower-cases a name and drops a trailing dot.
fn key(name: &str) -> Box<str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase().into_boxed_str()
}

/// Whether a name (no trailing dot) could be looked up in DNS.
fn queryable(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

impl Zone {
    /// An empty zone.
    pub fn new() -> Zone {
        Zone::default()
    }

    fn node(&mut self, name: &str) -> &mut Node {
        let k = key(name);
        let mut parent = &k[..];
        while let Some((_, rest)) = parent.split_once('.') {
            self.existing.insert(rest.into());
            parent = rest;
        }
        let node = self.nodes.entry(k).or_default();
        // Data changed: answers are rebuilt on the next lookup.
        node.built = OnceLock::new();
        node
    }

    fn current_ttl(&self) -> u32 {
        self.ttl.unwrap_or(DEFAULT_TTL)
    }

    /// Sets the TTL for records added after this call (default 3600 s).
    pub fn set_ttl(&mut self, ttl: u32) {
        self.ttl = Some(ttl);
    }

    /// Adds one TXT record made of these character-strings (which SPF joins
    /// without separators). An empty list is a record with no strings.
    pub fn add_txt(&mut self, name: &str, strings: Vec<Vec<u8>>) {
        let ttl = self.current_ttl();
        self.node(name).txt.push(strings, ttl);
    }

    /// Adds an A record.
    pub fn add_a(&mut self, name: &str, addr: Ipv4Addr) {
        let ttl = self.current_ttl();
        self.node(name).a.push(addr, ttl);
    }

    /// Adds an AAAA record.
    pub fn add_aaaa(&mut self, name: &str, addr: Ipv6Addr) {
        let ttl = self.current_ttl();
        self.node(name).aaaa.push(addr, ttl);
    }

    /// Adds an MX record. An exchange of `""` or `"."` is a null MX (RFC 7505).
    pub fn add_mx(&mut self, name: &str, preference: u16, exchange: &str) {
        let ttl = self.current_ttl();
        let exchange = key(exchange);
        self.node(name).mx.push((preference, exchange), ttl);
    }

    /// Adds a PTR record.
    pub fn add_ptr(&mut self, name: &str, target: &str) {
        let ttl = self.current_ttl();
        let target = key(target);
        self.node(name).ptr.push(target, ttl);
    }

    /// Makes `alias` a CNAME for `target`: lookups of any type at `alias`
    /// that has no records there follow it.
    pub fn add_cname(&mut self, alias: &str, target: &str) {
        let target = key(target);
        self.node(alias).cname = Some(target);
    }

    /// Makes every lookup at `name` for a type without records there fail
    /// with a timeout (a temporary DNS error).
    pub fn add_timeout(&mut self, name: &str) {
        self.node(name).timeout = true;
    }

    /// Makes `name` exist (lookups give `NoData`, not `NxDomain`) without records.
    pub fn add_name(&mut self, name: &str) {
        self.node(name);
    }

    /// Parses master-file text. `source_name` names it in errors.
    pub fn from_master_str(text: &str, source_name: &str) -> Result<Zone, Error> {
        let mut zone = Zone::new();
        zone.load_master_str(text, source_name)?;
        Ok(zone)
    }

    /// Reads a master file.
    pub fn from_master_file(path: impl AsRef<Path>) -> Result<Zone, Error> {
        let mut zone = Zone::new();
        zone.load_master_file(path)?;
        Ok(zone)
    }

    /// Reads a master file and adds its records to this zone.
    pub fn load_master_file(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::ZoneIo { path: path.display().to_string(), source: Arc::new(e) })?;
        self.load_master_str(&text, &path.display().to_string())
    }

    /// Parses master-file text and adds its records to this zone.
    ///
    /// Several zones may share one file: owner names are absolute or
    /// relative to `$ORIGIN` (the root when none is given). `$TTL` sets the
    /// default TTL; no SOA record is needed. TXT strings keep every byte
    /// (`\000` and `\255` escapes included). A, AAAA, MX, PTR, CNAME and TXT
    /// are served; other types only make their owner name exist.
    pub fn load_master_str(&mut self, text: &str, source_name: &str) -> Result<(), Error> {
        let syntax = |message: String| Error::ZoneSyntax { path: source_name.to_string(), message };
        // The obsolete SPF type (99) is not known to the parser: note its
        // owners and parse the rest.
        let (text, spf_owners) = strip_spf_rrs(text);
        let text = encode_decimal_escapes(&text);
        let parser = Parser::new(text.as_str(), None, Some(Name::root()));
        let (_, rrsets) = parser.parse().map_err(|e| syntax(e.to_string()))?;
        let rrsets: BTreeMap<_, _> = rrsets.into_iter().collect();
        for rrset in rrsets.values() {
            let owner = rrset.name().to_ascii();
            for record in rrset.records_without_rrsigs() {
                let ttl = record.ttl;
                let node = self.node(&owner);
                match &record.data {
                    RData::A(a) => node.a.push(a.0, ttl),
                    RData::AAAA(a) => node.aaaa.push(a.0, ttl),
                    RData::MX(mx) => node.mx.push((mx.preference, key(&mx.exchange.to_ascii())), ttl),
                    RData::PTR(ptr) => node.ptr.push(key(&ptr.0.to_ascii()), ttl),
                    RData::CNAME(c) => node.cname = Some(key(&c.0.to_ascii())),
                    RData::TXT(txt) => {
                        node.txt.push(txt.txt_data.iter().map(|s| decode_escaped_bytes(s)).collect(), ttl)
                    }
                    RData::SOA(soa) => {
                        let minimum = soa.minimum.min(ttl);
                        self.negative_ttl = Some(minimum);
                    }
                    _ => {}
                }
            }
            if rrset.record_type() == HickoryType::CNAME && rrset.is_empty() {
                self.node(&owner);
            }
        }
        for owner in spf_owners {
            self.node(&owner).spf_rr = true;
        }
        Ok(())
    }

    /// How many lookups this zone has answered.
    pub fn query_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The lookups so far, in order (the first 4096 of them).
    pub fn queries(&self) -> Vec<(String, RecordType)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets the lookups counted so far.
    pub fn reset_queries(&self) {
        self.count.store(0, Ordering::Relaxed);
        if let Ok(mut log) = self.log.lock() {
            log.clear();
        }
    }

    /// Owner names that published an obsolete SPF (type 99) RR in a master
    /// file. They are never served: RFC 7208 §3.1 uses TXT only.
    pub fn spf_rr_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.nodes.iter().filter(|(_, n)| n.spf_rr).map(|(k, _)| k.to_string()).collect();
        names.sort();
        names
    }

    fn exists(&self, name: &str) -> bool {
        self.nodes.contains_key(name) || self.existing.contains(name)
    }

    fn negative(&self) -> u32 {
        self.negative_ttl.unwrap_or(DEFAULT_TTL)
    }

    fn resolve(&self, name: &str, rtype: RecordType) -> LookupResult {
        let lowered;
        let mut name = name.strip_suffix('.').unwrap_or(name);
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            name = &lowered;
        }
        let mut current: &str = name;
        for _ in 0..=MAX_CNAME_HOPS {
            if !queryable(current) {
                return Err(LookupError::NxDomain { ttl: self.negative() });
            }
            let Some(node) = self.nodes.get(current) else {
                return Err(if self.exists(current) {
                    LookupError::NoData { ttl: self.negative() }
                } else {
                    LookupError::NxDomain { ttl: self.negative() }
                });
            };
            if let Some(answer) = node.answer(rtype) {
                return Ok(answer.clone());
            }
            if let Some(target) = &node.cname {
                current = target;
                continue;
            }
            if node.timeout {
                return Err(LookupError::Temporary(TempFailure::Timeout));
            }
            return Err(LookupError::NoData { ttl: self.negative() });
        }
        Err(LookupError::Temporary(TempFailure::Other(
            format!("CNAME chain from {name} too long or looping").into(),
        )))
    }
}

/// First code point of the private-use range that carries raw bytes through
/// the master-file parser: byte `b` travels as `U+10FF00 + b`.
const BYTE_CARRIER: u32 = 0x10_FF00;

/// Rewrites RFC 1035 `\DDD` escapes before the text reaches hickory-proto's
/// lexer, which decodes them wrongly (0.26 reads `\255` as U+20505) and
/// cannot carry bytes that are not UTF-8. Printable ASCII becomes itself
/// (`"` and `\` stay escaped); every other byte travels as a private-use
/// character that [`decode_escaped_bytes`] turns back into the byte.
fn encode_decimal_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let digits: String = chars.clone().take(3).collect();
        if digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let value: u32 = digits.bytes().fold(0, |v, d| v * 10 + u32::from(d - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                for _ in 0..3 {
                    chars.next();
                }
                match byte {
                    b'"' | b'\\' => {
                        out.push('\\');
                        out.push(char::from(byte));
                    }
                    0x20..=0x7e => out.push(char::from(byte)),
                    _ => out.extend(char::from_u32(BYTE_CARRIER + u32::from(byte))),
                }
                continue;
            }
        }
        // Any other escape (`\"`, `\\`, `\X`) is left for the lexer.
        out.push(c);
        if let Some(next) = chars.next() {
            out.push(next);
        }
    }
    out
}

/// Turns the private-use carriers of [`encode_decimal_escapes`] back into bytes.
fn decode_escaped_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        // U+10FF00..=U+10FFFF is F4 8F BC..BF 80..BF in UTF-8.
        if let [0xF4, 0x8F, b3 @ 0xBC..=0xBF, b4 @ 0x80..=0xBF, ..] = data[i..] {
            out.push(((b3 & 0x03) << 6) | (b4 & 0x3F));
            i += 4;
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Removes records of type SPF (99) from master-file text, returning the
/// rest and the owner names of the removed records. Only simple one-line
/// records with an explicit owner are recognised; others are left for the
/// parser to reject.
fn strip_spf_rrs(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut owners = Vec::new();
    let mut origin = String::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [directive, value, ..] = fields.as_slice()
            && directive.eq_ignore_ascii_case("$ORIGIN")
        {
            origin = value.trim_end_matches('.').to_string();
        }
        let is_spf = !line.starts_with([' ', '\t'])
            && fields.len() >= 3
            && fields[1..fields.len().min(5)].iter().any(|f| f.eq_ignore_ascii_case("SPF"))
            && !fields[0].starts_with(['$', ';']);
        if is_spf {
            let owner = fields[0];
            let absolute = if owner.ends_with('.') {
                owner.trim_end_matches('.').to_string()
            } else if owner == "@" {
                origin.clone()
            } else if origin.is_empty() {
                owner.to_string()
            } else {
                format!("{owner}.{origin}")
            };
            owners.push(absolute);
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    (out, owners)
}

impl Lookup for Zone {
    async fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut log) = self.log.lock()
            && log.len() < MAX_LOG
        {
            log.push((name.to_string(), rtype));
        }
        self.resolve(name, rtype)
    }
}
