//! An in-memory zone: answers lookups from data built in code or loaded from
//! RFC 1035 master files (the format BIND, NSD and Knot keep), for offline
//! checks, tests and demos.
//!
//! How names with odd octets are written: see [`name_text`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use hickory_proto::rr::RecordType as HickoryType;

use super::{Answer, Lookup, LookupError, LookupResult, RecordType, Records, TempFailure, TxtRecords};
use crate::Error;
use crate::input::valid_label_lengths;

/// Longest `<character-string>` (RFC 1035 §3.3: one length octet).
const MAX_CHARACTER_STRING: usize = 255;
/// Longest RDATA (RFC 1035 §3.2.1: RDLENGTH is 16 bits).
const MAX_RDATA: usize = 65535;

/// Default TTL of records added in code, and of master-file records that
/// give no TTL when neither `$TTL` nor an earlier record gave one.
const DEFAULT_TTL: u32 = 3600;
/// Longest CNAME chain a [`Zone`] lookup follows, as a resolver lookup does
/// (one constant for both, so a chain means the same over either).
pub use super::MAX_CNAME_HOPS;
/// Lookups kept in the query log (the counter counts them all).
const MAX_LOG: usize = 4096;
// Longest label, in octets (RFC 1035 §2.3.4): the one constant of `input`.
use crate::input::MAX_LABEL;
/// Longest name on the wire, in octets, length octets and root included
/// (RFC 1035 §2.3.4).
const MAX_NAME_WIRE: usize = 255;

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

    /// Adds a record read from a master file: a copy of a record already
    /// read (`duplicate`) only lowers the RRset's TTL, as an RRset is a set.
    fn add(&mut self, item: T, ttl: u32, duplicate: bool) {
        if duplicate {
            self.ttl = self.ttl.min(ttl);
        } else {
            self.push(item, ttl);
        }
    }
}

/// Everything at one owner name.
#[derive(Debug, Default)]
struct Node {
    txt: RrSet<Vec<Vec<u8>>>,
    a: RrSet<Ipv4Addr>,
    aaaa: RrSet<Ipv6Addr>,
    /// Preference and exchange (a key, see [`key`]).
    mx: RrSet<(u16, Box<str>)>,
    /// Targets (keys).
    ptr: RrSet<Box<str>>,
    /// Target (a key) and TTL.
    cname: Option<(Box<str>, u32)>,
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
                mx: answer(Records::Mx(mx.iter().map(|(_, n)| text_of_key(n)).collect()), self.mx.ttl),
                ptr: answer(
                    Records::Ptr(self.ptr.items.iter().map(|n| text_of_key(n)).collect()),
                    self.ptr.ttl,
                ),
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
/// Names are octet strings compared case-insensitively in ASCII (see the
/// [`name_text`] for how they are written); a name exists when it
/// owns any record (of any type), was added with [`Zone::add_name`], or is
/// an ancestor of one (an empty non-terminal). Queries for names that do
/// not exist give `NxDomain`; for existing names without records of the
/// type, `NoData`. A lookup follows CNAMEs itself, at most
/// [`MAX_CNAME_HOPS`] of them; [`Zone::cname_chain`] shows the hops (a DNS
/// server answering from a zone needs them). Every lookup is counted, so
/// tests can assert how many queries a check sent.
#[derive(Debug, Default)]
pub struct Zone {
    /// Nodes by key (see [`key`]).
    nodes: HashMap<Box<str>, Node>,
    /// Names that exist without records of their own (ancestors, `add_name`).
    existing: HashSet<Box<str>>,
    ttl: Option<u32>,
    negative_ttl: Option<u32>,
    count: AtomicU64,
    log: Mutex<Vec<(String, RecordType)>>,
}

/// One CNAME record of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CnameHop {
    /// The alias: the owner of the CNAME record (lower case, no trailing dot).
    pub alias: String,
    /// Its target (lower case, no trailing dot).
    pub target: String,
    /// The CNAME record's TTL.
    pub ttl: u32,
}

/// How a chain of CNAMEs ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ChainEnd {
    /// The last name reached is no alias (or holds records of the type
    /// itself): this is its answer for the type, `NxDomain` and `NoData`
    /// included.
    Answer(LookupResult),
    /// The last hop's target is a name already in the chain.
    Loop,
    /// The hop limit was reached and the last target is an alias again.
    TooLong,
}

/// The CNAME records from a name to the data of a type, as an
/// authoritative server puts them in its answer section.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CnameChain {
    /// The CNAME records followed, in order: the first alias is the name
    /// asked, each target the next alias.
    pub hops: Vec<CnameHop>,
    /// What is at the end.
    pub end: ChainEnd,
}

/// Whether `b` stands for itself in a key: visible ASCII other than `.`
/// (the label separator) and `\` (the escape).
fn plain_octet(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'.' && b != b'\\'
}

/// Appends a label to a key: plain octets lower-cased, every other octet as
/// `\DDD`.
fn push_label(out: &mut String, label: &[u8], lowercase: bool) {
    for &b in label {
        if plain_octet(b) {
            out.push(char::from(if lowercase { b.to_ascii_lowercase() } else { b }));
        } else {
            let _ = write!(out, "\\{b:03}");
        }
    }
}

/// The key of a name given by its labels.
///
/// Keys are the zone's one spelling of a name: labels joined by `.`, ASCII
/// letters in lower case, octets that are not visible ASCII, `.` and `\`
/// written `\DDD`. Two names are the same exactly when their keys are.
fn key_of_labels<L: AsRef<[u8]>>(labels: &[L]) -> Box<str> {
    let mut out = String::new();
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_label(&mut out, label.as_ref(), true);
    }
    out.into_boxed_str()
}

/// The key of a name given as text (literal or escaped, see the module
/// docs), borrowed when the text is already one.
fn key_cow(text: &str) -> Cow<'_, str> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if let Some(escaped) = text.strip_prefix('.').filter(|rest| !rest.is_empty())
        && let Ok(labels) = name_from_master(escaped.as_bytes(), &[])
    {
        return Cow::Owned(key_of_labels(&labels).into_string());
    }
    // Literal text (a bad escaped form too: its empty first label then
    // makes it a name no lookup finds).
    if text.bytes().all(|b| plain_octet(b) || b == b'.') {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Cow::Owned(text.to_ascii_lowercase());
        }
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, label) in text.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_label(&mut out, label.as_bytes(), true);
    }
    Cow::Owned(out)
}

fn key(text: &str) -> Box<str> {
    key_cow(text).into_owned().into_boxed_str()
}

/// The labels of a key.
fn key_labels(key: &str) -> Vec<Vec<u8>> {
    if key.is_empty() {
        return Vec::new();
    }
    key.split('.')
        .map(|label| {
            let bytes = label.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                // Keys hold `\` only in `\DDD` escapes of one octet.
                match escape_at(bytes, i) {
                    Ok((b, len)) if bytes[i] == b'\\' => {
                        out.push(b);
                        i += len;
                    }
                    _ => {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
            }
            out
        })
        .collect()
}

/// The text of a name given by its labels: literal when every label is
/// UTF-8 without a `.`, escaped otherwise. Case is kept. The root is `""`.
///
/// A domain name is a sequence of labels of octets (RFC 1035 §3.1, RFC 2181
/// §11); letters compare case-insensitively, in ASCII only (RFC 4343). The
/// zone keeps every name as octets. It reads and gives out names as text in
/// one of two forms:
///
/// - **literal** (what [`Lookup`] callers, [`Resolver`](crate::dns::Resolver) and
///   the `add_*` methods use): the UTF-8 octets of the text, split into
///   labels at every `.`, one trailing `.` ignored. Nothing is unescaped: a
///   `\` is the octet 0x5C. `foo:bar/baz.example.com` is three labels.
/// - **escaped**: a `.` followed by the name in master-file form, where
///   `\DDD` (decimal) and `\X` escapes (RFC 1035 §5.1) give any octet, e.g.
///   `.a\046b.example` for the two labels `a.b` and `example`. A literal
///   name never starts with `.` (its first label would be empty), so the
///   two forms never meet.
///
/// The zone gives out (as MX and PTR targets, CNAME hops, [`name_text`]) the
/// literal form of a name whenever there is one, and the escaped form only
/// for names no literal text can write: a label that is not UTF-8 (`\200`)
/// or holds a `.`. SPF never asks for those ([`crate::Checker`] only
/// queries names whose labels are non-empty), and they can never be
/// confused with another name.
pub fn name_text<L: AsRef<[u8]>>(labels: &[L]) -> String {
    let literal =
        labels.iter().all(|l| !l.as_ref().contains(&b'.') && std::str::from_utf8(l.as_ref()).is_ok());
    let mut out = String::new();
    if !literal {
        out.push('.');
    }
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match std::str::from_utf8(label.as_ref()) {
            Ok(text) if literal => out.push_str(text),
            _ => push_label(&mut out, label.as_ref(), false),
        }
    }
    out
}

/// The labels (octets, ASCII in lower case) of a name given as text,
/// literal or escaped (see the module docs): the inverse of [`name_text`]
/// up to case. The root (`""` or `"."`) has none.
pub fn name_labels(text: &str) -> Vec<Vec<u8>> {
    key_labels(&key_cow(text))
}

/// The text a zone gives out for the name with this key.
fn text_of_key(key: &str) -> Box<str> {
    if key.contains('\\') { name_text(&key_labels(key)).into_boxed_str() } else { key.into() }
}

/// Whether a key names something a lookup can ask for: the one rule of
/// [`valid_label_lengths`], counted in octets (every `\` of a key starts
/// a `\DDD` escape of one octet).
fn queryable(key: &str) -> bool {
    valid_label_lengths(
        key.split('.').map(|label| label.len() - 3 * label.bytes().filter(|&b| b == b'\\').count()),
    )
}

/// One step of a lookup: the answer at a name, or the CNAME to follow.
enum Step<'a> {
    Done(LookupResult),
    Alias { target: &'a str, ttl: u32 },
}

impl Zone {
    /// An empty zone.
    pub fn new() -> Zone {
        Zone::default()
    }

    fn node(&mut self, name: &str) -> &mut Node {
        self.node_at(key(name))
    }

    fn node_at(&mut self, key: Box<str>) -> &mut Node {
        let mut parent = &key[..];
        while let Some((_, rest)) = parent.split_once('.') {
            self.existing.insert(rest.into());
            parent = rest;
        }
        let node = self.nodes.entry(key).or_default();
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
    /// that has no records there follow it. A second call for the same
    /// alias replaces the target.
    pub fn add_cname(&mut self, alias: &str, target: &str) {
        let ttl = self.current_ttl();
        let target = key(target);
        self.node(alias).cname = Some((target, ttl));
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

    /// Reads a master file and adds its records to this zone. Errors name
    /// the file as given (see [`Zone::load_master_str`]).
    pub fn load_master_file(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::ZoneIo { path: path.display().to_string(), source: Arc::new(e) })?;
        self.load_master_str(&text, &path.display().to_string())
    }

    /// Parses master-file text (RFC 1035 §5) and adds its records to this
    /// zone, all of them or, on an error, none.
    ///
    /// Several zones may share one file: owner names are absolute or
    /// relative to `$ORIGIN` (the root when none is given); `@` is the
    /// origin; an owner left blank is the previous record's. A record
    /// without a TTL gets `$TTL` (RFC 2308), else the last TTL given, else
    /// 3600 s. TTLs may use units (`1h30m`). No SOA record is needed; one
    /// sets the negative-caching TTL (the smaller of its TTL and MINIMUM,
    /// RFC 2308 §5). Names and strings take `\DDD` and `\X` escapes (RFC
    /// 1035 §5.1) and keep every octet (see [`name_text`]).
    /// Identical records at a name count once.
    ///
    /// A, AAAA, MX, PTR, CNAME and TXT records of class IN are served;
    /// records of other types (any type hickory-proto knows, or `TYPEnnn`,
    /// RFC 3597) only make their owner name exist and their data is not
    /// checked; an obsolete SPF (type 99) record is noted
    /// ([`Zone::spf_rr_names`]), never served; records of other classes are
    /// checked and ignored. `$INCLUDE` is refused: load each file instead.
    ///
    /// # Errors
    ///
    /// [`Error::ZoneSyntax`] with `source_name`, the 1-based line of the
    /// offending token and what is wrong with it.
    pub fn load_master_str(&mut self, text: &str, source_name: &str) -> Result<(), Error> {
        let records = read_master(text).map_err(|e| Error::ZoneSyntax {
            path: source_name.to_string(),
            line: e.line,
            message: e.message,
        })?;
        let mut seen = HashSet::new();
        for record in &records {
            let duplicate = !seen.insert((&record.owner, &record.data));
            let ttl = record.ttl;
            let node = self.node_at(record.owner.clone());
            match &record.data {
                Data::A(a) => node.a.add(*a, ttl, duplicate),
                Data::Aaaa(a) => node.aaaa.add(*a, ttl, duplicate),
                Data::Mx(pref, exchange) => node.mx.add((*pref, exchange.clone()), ttl, duplicate),
                Data::Ptr(target) => node.ptr.add(target.clone(), ttl, duplicate),
                Data::Cname(target) => node.cname = Some((target.clone(), ttl)),
                Data::Txt(strings) => node.txt.add(strings.clone(), ttl, duplicate),
                Data::Spf => node.spf_rr = true,
                Data::Soa { minimum } => self.negative_ttl = Some((*minimum).min(ttl)),
                Data::Exists => {}
            }
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
            self.nodes.iter().filter(|(_, n)| n.spf_rr).map(|(k, _)| text_of_key(k).into()).collect();
        names.sort();
        names
    }

    /// The CNAME record at `name`, not followed: what a DNS server answers
    /// to a query of type CNAME. `NoData` when `name` exists and is no
    /// alias, `NxDomain` when it does not exist. Not counted as a lookup.
    pub fn cname(&self, name: &str) -> Result<CnameHop, LookupError> {
        let key = key_cow(name);
        match self.nodes.get(&*key).filter(|_| queryable(&key)) {
            Some(Node { cname: Some((target, ttl)), .. }) => Ok(CnameHop {
                alias: text_of_key(&key).into(),
                target: text_of_key(target).into(),
                ttl: *ttl,
            }),
            Some(_) => Err(LookupError::NoData { ttl: self.negative() }),
            None if queryable(&key) && self.exists(&key) => Err(LookupError::NoData { ttl: self.negative() }),
            None => Err(LookupError::NxDomain { ttl: self.negative() }),
        }
    }

    /// Follows the CNAMEs from `name` towards records of type `rtype`, at
    /// most `max_hops` of them, and stops at a loop: the CNAME records in
    /// order, then how the chain ended. Not counted as a lookup.
    ///
    /// [`Lookup::lookup`] on a zone is this with [`MAX_CNAME_HOPS`], a
    /// [`ChainEnd::Loop`] or [`ChainEnd::TooLong`] being a temporary error.
    /// A DNS server answering from the zone puts the hops, then the final
    /// answer's records under the last target, in its answer section.
    /// Loops are found by comparing each target with the names before it,
    /// so the work grows with the square of `max_hops`.
    pub fn cname_chain(&self, name: &str, rtype: RecordType, max_hops: usize) -> CnameChain {
        let start = key_cow(name);
        let mut visited: Vec<&str> = vec![start.as_ref()];
        let mut hops = Vec::new();
        loop {
            let current = visited[visited.len() - 1];
            match self.step(current, rtype) {
                Step::Done(result) => return CnameChain { hops, end: ChainEnd::Answer(result) },
                Step::Alias { target, ttl } => {
                    if hops.len() >= max_hops {
                        return CnameChain { hops, end: ChainEnd::TooLong };
                    }
                    hops.push(CnameHop {
                        alias: text_of_key(current).into(),
                        target: text_of_key(target).into(),
                        ttl,
                    });
                    if visited.contains(&target) {
                        return CnameChain { hops, end: ChainEnd::Loop };
                    }
                    visited.push(target);
                }
            }
        }
    }

    fn exists(&self, name: &str) -> bool {
        self.nodes.contains_key(name) || self.existing.contains(name)
    }

    fn negative(&self) -> u32 {
        self.negative_ttl.unwrap_or(DEFAULT_TTL)
    }

    /// The answer at the name with this key, or the CNAME to follow from it.
    fn step(&self, key: &str, rtype: RecordType) -> Step<'_> {
        if !queryable(key) {
            return Step::Done(Err(LookupError::NxDomain { ttl: self.negative() }));
        }
        let Some(node) = self.nodes.get(key) else {
            return Step::Done(Err(if self.exists(key) {
                LookupError::NoData { ttl: self.negative() }
            } else {
                LookupError::NxDomain { ttl: self.negative() }
            }));
        };
        if let Some(answer) = node.answer(rtype) {
            return Step::Done(Ok(answer.clone()));
        }
        if let Some((target, ttl)) = &node.cname {
            return Step::Alias { target, ttl: *ttl };
        }
        if node.timeout {
            return Step::Done(Err(LookupError::Temporary(TempFailure::Timeout)));
        }
        Step::Done(Err(LookupError::NoData { ttl: self.negative() }))
    }

    fn resolve(&self, name: &str, rtype: RecordType) -> LookupResult {
        let start = key_cow(name);
        let mut current: &str = &start;
        for _ in 0..=MAX_CNAME_HOPS {
            match self.step(current, rtype) {
                Step::Done(result) => return result,
                Step::Alias { target, .. } => current = target,
            }
        }
        Err(too_long(name))
    }
}

/// The temporary error of a lookup whose CNAME chain is too long or loops.
fn too_long(name: &str) -> LookupError {
    let name = name.strip_suffix('.').unwrap_or(name);
    LookupError::Temporary(TempFailure::Other(
        format!("CNAME chain from {name} longer than {MAX_CNAME_HOPS} hops or looping").into(),
    ))
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

// ---- master files (RFC 1035 §5) ----

/// A master-file error: the 1-based line and what is wrong.
#[derive(Debug)]
struct SyntaxError {
    line: usize,
    message: String,
}

type Parsed<T> = Result<T, SyntaxError>;

fn syntax<T>(line: usize, message: impl Into<String>) -> Parsed<T> {
    Err(SyntaxError { line, message: message.into() })
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// A record read from a master file, owner and names as keys.
#[derive(Debug)]
struct MasterRecord {
    owner: Box<str>,
    ttl: u32,
    data: Data,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, Box<str>),
    Ptr(Box<str>),
    Cname(Box<str>),
    Txt(Vec<Vec<u8>>),
    /// An obsolete SPF (type 99) record.
    Spf,
    Soa {
        minimum: u32,
    },
    /// A record of a type not served.
    Exists,
}

/// A token: its text as written (quotes removed, escapes kept), whether it
/// was quoted, and its line.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    text: &'a [u8],
    quoted: bool,
    line: usize,
}

impl<'a> Token<'a> {
    /// The text of a token that may not be quoted (a name, number, type...).
    fn bare(&self) -> Parsed<&'a [u8]> {
        if self.quoted {
            return syntax(self.line, format!("unexpected quoted string \"{}\"", lossy(self.text)));
        }
        Ok(self.text)
    }

    /// The octets of a `<character-string>`, escapes decoded.
    fn octets(&self) -> Parsed<Vec<u8>> {
        let t = self.text;
        let mut out = Vec::with_capacity(t.len());
        let mut i = 0;
        while i < t.len() {
            if t[i] == b'\\' {
                let (b, len) = escape_at(t, i).or_else(|m| syntax(self.line, m))?;
                out.push(b);
                i += len;
            } else {
                out.push(t[i]);
                i += 1;
            }
        }
        Ok(out)
    }

    fn name(&self, origin: &[Vec<u8>]) -> Parsed<Vec<Vec<u8>>> {
        name_from_master(self.bare()?, origin).or_else(|m| syntax(self.line, m))
    }

    fn key(&self, origin: &[Vec<u8>]) -> Parsed<Box<str>> {
        Ok(key_of_labels(&self.name(origin)?))
    }
}

/// One entry: a record or a directive, from its first line to the end of
/// the line that closes its parentheses.
#[derive(Debug)]
struct Entry<'a> {
    line: usize,
    /// It started with a blank: the owner is the previous record's.
    blank_owner: bool,
    tokens: Vec<Token<'a>>,
}

/// Splits master-file text into entries (RFC 1035 §5.1): `;` comments,
/// `( )` grouping across lines, quoted strings, `\` escapes.
struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer { bytes: text.as_bytes(), pos: 0, line: 1 }
    }

    fn next_entry(&mut self) -> Parsed<Option<Entry<'a>>> {
        let b = self.bytes;
        while self.pos < b.len() {
            let line = self.line;
            let blank_owner = matches!(b[self.pos], b' ' | b'\t');
            let mut tokens = Vec::new();
            // The line of an open `(`.
            let mut open: Option<usize> = None;
            while let Some(&c) = b.get(self.pos) {
                match c {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if open.is_none() {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => {
                        while b.get(self.pos).is_some_and(|&c| c != b'\n') {
                            self.pos += 1;
                        }
                    }
                    b'(' => {
                        if open.is_some() {
                            return syntax(self.line, "'(' inside '('");
                        }
                        open = Some(self.line);
                        self.pos += 1;
                    }
                    b')' => {
                        if open.take().is_none() {
                            return syntax(self.line, "')' without '('");
                        }
                        self.pos += 1;
                    }
                    b'"' => {
                        let start = self.pos + 1;
                        let mut i = start;
                        loop {
                            match b.get(i) {
                                Some(b'"') => break,
                                Some(b'\\') if b.get(i + 1).is_some_and(|&n| n != b'\n') => i += 2,
                                Some(b'\\' | b'\n') | None => {
                                    return syntax(self.line, "quoted string without its closing '\"'");
                                }
                                Some(_) => i += 1,
                            }
                        }
                        tokens.push(Token { text: &b[start..i], quoted: true, line: self.line });
                        self.pos = i + 1;
                    }
                    _ => {
                        let start = self.pos;
                        let mut i = start;
                        while let Some(&c) = b.get(i) {
                            match c {
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                                b'\\' if b.get(i + 1).is_some_and(|&n| n != b'\n') => i += 2,
                                _ => i += 1,
                            }
                        }
                        tokens.push(Token { text: &b[start..i], quoted: false, line: self.line });
                        self.pos = i;
                    }
                }
            }
            if let Some(at) = open {
                return syntax(at, "'(' without ')'");
            }
            if !tokens.is_empty() {
                return Ok(Some(Entry { line, blank_owner, tokens }));
            }
        }
        Ok(None)
    }
}

/// The octet of the `\` escape at `t[i]` and the escape's length: `\DDD`
/// (decimal, at most 255) or `\X` (RFC 1035 §5.1).
fn escape_at(t: &[u8], i: usize) -> Result<(u8, usize), String> {
    match t.get(i + 1) {
        None => Err(format!("'\\' at the end of {}", lossy(t))),
        Some(d) if d.is_ascii_digit() => {
            let digits =
                t.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit)).ok_or_else(|| {
                    format!(
                        "{} is not a \\DDD escape (three decimal digits)",
                        lossy(&t[i..t.len().min(i + 4)])
                    )
                })?;
            let value = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
            u8::try_from(value).map(|b| (b, 4)).map_err(|_| format!("escape \\{value} is over \\255"))
        }
        Some(&x) => Ok((x, 2)),
    }
}

/// A name in master-file form: absolute when it ends in an unescaped `.`,
/// else relative to `origin`; `@` is the origin, `.` the root.
fn name_from_master(text: &[u8], origin: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    if text == b"@" {
        return Ok(origin.to_vec());
    }
    if text == b"." {
        return Ok(Vec::new());
    }
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut i = 0;
    let mut absolute = false;
    while i < text.len() {
        match text[i] {
            b'.' => {
                if label.is_empty() {
                    return Err(format!("empty label in name {}", lossy(text)));
                }
                labels.push(std::mem::take(&mut label));
                i += 1;
                absolute = i == text.len();
            }
            b'\\' => {
                let (b, len) = escape_at(text, i)?;
                label.push(b);
                i += len;
            }
            b => {
                label.push(b);
                i += 1;
            }
        }
    }
    if !absolute {
        if label.is_empty() {
            return Err("empty name".into());
        }
        labels.push(label);
        labels.extend_from_slice(origin);
    }
    if let Some(long) = labels.iter().find(|l| l.len() > MAX_LABEL) {
        return Err(format!("label {} is longer than {MAX_LABEL} octets", lossy(long)));
    }
    if labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1 > MAX_NAME_WIRE {
        return Err(format!("name {} is longer than {MAX_NAME_WIRE} octets", lossy(text)));
    }
    Ok(labels)
}

/// A TTL: seconds, or BIND's units (`1w2d3h4m5s`, any case).
fn parse_ttl(text: &[u8]) -> Option<u32> {
    if text.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(text).ok()?.parse().ok();
    }
    let mut total: u32 = 0;
    let mut number: Option<u32> = None;
    for &c in text {
        if c.is_ascii_digit() {
            number = Some(number.unwrap_or(0).checked_mul(10)?.checked_add(u32::from(c - b'0'))?);
            continue;
        }
        let unit: u32 = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    total.checked_add(number.unwrap_or(0))
}

/// Whether a token is a class: `Some(true)` for IN, `Some(false)` for the
/// others (CH, HS, CS, `CLASSnnn`), `None` when it is not one.
fn parse_class(text: &[u8]) -> Option<bool> {
    let upper = lossy(text).to_ascii_uppercase();
    match upper.as_str() {
        "IN" => Some(true),
        "CH" | "HS" | "CS" => Some(false),
        _ => upper.strip_prefix("CLASS").and_then(|n| n.parse::<u16>().ok()).map(|n| n == 1),
    }
}

/// Record types as the reader handles them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MasterType {
    A,
    Aaaa,
    Mx,
    Ptr,
    Cname,
    Txt,
    Spf,
    Soa,
    Other,
}

/// Record types in use that hickory-proto 0.26 has no mnemonic for.
const MORE_TYPES: [&str; 16] = [
    "AFSDB", "APL", "DHCID", "DLV", "EUI48", "EUI64", "HIP", "IPSECKEY", "KX", "L32", "L64", "LOC", "LP",
    "NID", "RP", "URI",
];

fn parse_type(text: &[u8]) -> Option<MasterType> {
    let upper = lossy(text).to_ascii_uppercase();
    // RFC 3597 §5: TYPEnnn is type nnn.
    let number = upper.strip_prefix("TYPE").and_then(|n| n.parse::<u16>().ok());
    Some(match (upper.as_str(), number) {
        ("A", _) | (_, Some(1)) => MasterType::A,
        ("AAAA", _) | (_, Some(28)) => MasterType::Aaaa,
        ("MX", _) | (_, Some(15)) => MasterType::Mx,
        ("PTR", _) | (_, Some(12)) => MasterType::Ptr,
        ("CNAME", _) | (_, Some(5)) => MasterType::Cname,
        ("TXT", _) | (_, Some(16)) => MasterType::Txt,
        ("SPF", _) | (_, Some(99)) => MasterType::Spf,
        ("SOA", _) | (_, Some(6)) => MasterType::Soa,
        (_, Some(_)) => MasterType::Other,
        (mnemonic, None) => {
            // Query types (ANY, AXFR, `*`) are not record types.
            let known = HickoryType::from_str(mnemonic)
                .is_ok_and(|t| !matches!(t, HickoryType::ANY | HickoryType::AXFR));
            if !known && !MORE_TYPES.contains(&mnemonic) {
                return None;
            }
            MasterType::Other
        }
    })
}

/// Reads master-file text into records, stopping at the first error.
fn read_master(text: &str) -> Parsed<Vec<MasterRecord>> {
    let mut reader = Reader { origin: Vec::new(), default_ttl: None, last_ttl: None, owner: None };
    let mut records = Vec::new();
    let mut lexer = Lexer::new(text);
    while let Some(entry) = lexer.next_entry()? {
        if let Some(record) = reader.entry(&entry)? {
            records.push(record);
        }
    }
    Ok(records)
}

/// What earlier entries set for later ones.
struct Reader {
    origin: Vec<Vec<u8>>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    owner: Option<Box<str>>,
}

impl Reader {
    /// Reads one entry: a record (`Some` when it is served or makes a name
    /// exist) or a directive (`None`).
    fn entry(&mut self, entry: &Entry<'_>) -> Parsed<Option<MasterRecord>> {
        let first = entry.tokens[0];
        if !entry.blank_owner && !first.quoted && first.text.starts_with(b"$") {
            self.directive(entry)?;
            return Ok(None);
        }
        let rest = if entry.blank_owner {
            if self.owner.is_none() {
                return syntax(entry.line, "no owner name, and no record before to take it from");
            }
            &entry.tokens[..]
        } else {
            self.owner = Some(first.key(&self.origin)?);
            &entry.tokens[1..]
        };
        let owner = self.owner.clone().unwrap_or_default();
        // [<TTL>] [<class>] <type>, TTL and class in either order.
        let mut ttl = None;
        let mut class_in = None;
        let mut next = rest.iter();
        let (rtype, type_token) = loop {
            let Some(token) = next.next() else {
                let line = rest.last().map_or(entry.line, |t| t.line);
                return syntax(line, "record without a type");
            };
            let text = token.bare()?;
            if text[0].is_ascii_digit() && ttl.is_none() {
                let value = parse_ttl(text).ok_or_else(|| SyntaxError {
                    line: token.line,
                    message: format!("bad TTL {}", lossy(text)),
                })?;
                ttl = Some(value);
                continue;
            }
            if class_in.is_none()
                && let Some(is_in) = parse_class(text)
            {
                class_in = Some(is_in);
                continue;
            }
            let rtype = parse_type(text).ok_or_else(|| SyntaxError {
                line: token.line,
                message: format!("record type string unknown: {}", lossy(text)),
            })?;
            break (rtype, token);
        };
        let rdata: Vec<Token<'_>> = next.copied().collect();
        let data = self.rdata(rtype, type_token, &rdata)?;
        let ttl = match ttl {
            Some(ttl) => {
                self.last_ttl = Some(ttl);
                ttl
            }
            None => self.default_ttl.or(self.last_ttl).unwrap_or(DEFAULT_TTL),
        };
        // Only class IN is served (a record without a class is IN).
        Ok((class_in != Some(false)).then_some(MasterRecord { owner, ttl, data }))
    }

    fn directive(&mut self, entry: &Entry<'_>) -> Parsed<()> {
        let directive = lossy(entry.tokens[0].text).to_ascii_uppercase();
        let args = &entry.tokens[1..];
        match directive.as_str() {
            "$ORIGIN" => {
                let [name] = args else { return syntax(entry.line, "$ORIGIN takes one name") };
                self.origin = name.name(&self.origin)?;
            }
            "$TTL" => {
                let [ttl] = args else { return syntax(entry.line, "$TTL takes one TTL") };
                let text = ttl.bare()?;
                self.default_ttl = Some(parse_ttl(text).ok_or_else(|| SyntaxError {
                    line: ttl.line,
                    message: format!("bad TTL {}", lossy(text)),
                })?);
            }
            "$INCLUDE" => return syntax(entry.line, "$INCLUDE is not supported: load each file instead"),
            _ => return syntax(entry.line, format!("unknown directive {directive}")),
        }
        Ok(())
    }

    fn rdata(&self, rtype: MasterType, type_token: &Token<'_>, rdata: &[Token<'_>]) -> Parsed<Data> {
        let line = type_token.line;
        let what = lossy(type_token.text).to_ascii_uppercase();
        if rtype != MasterType::Other && rdata.first().is_some_and(|t| t.text == b"\\#" && !t.quoted) {
            return syntax(line, format!("RFC 3597 data (\\#) is not supported for {what}"));
        }
        // Exactly `N` tokens.
        let fields = |n: usize, form: &str| -> Parsed<&[Token<'_>]> {
            if rdata.len() != n {
                let at = rdata.get(n).map_or(line, |t| t.line);
                return syntax(at, format!("{what} data is {form}"));
            }
            Ok(rdata)
        };
        Ok(match rtype {
            MasterType::A => {
                let text = fields(1, "one IPv4 address")?[0].bare()?;
                let addr = lossy(text)
                    .parse()
                    .or_else(|_| syntax(line, format!("bad IPv4 address {}", lossy(text))))?;
                Data::A(addr)
            }
            MasterType::Aaaa => {
                let text = fields(1, "one IPv6 address")?[0].bare()?;
                let addr = lossy(text)
                    .parse()
                    .or_else(|_| syntax(line, format!("bad IPv6 address {}", lossy(text))))?;
                Data::Aaaa(addr)
            }
            MasterType::Mx => {
                let mx = fields(2, "a preference and an exchange name")?;
                let (pref, exchange) = (&mx[0], &mx[1]);
                let text = pref.bare()?;
                let pref = lossy(text)
                    .parse()
                    .or_else(|_| syntax(pref.line, format!("bad MX preference {}", lossy(text))))?;
                Data::Mx(pref, exchange.key(&self.origin)?)
            }
            MasterType::Ptr => Data::Ptr(fields(1, "one name")?[0].key(&self.origin)?),
            MasterType::Cname => Data::Cname(fields(1, "one name")?[0].key(&self.origin)?),
            MasterType::Txt | MasterType::Spf => {
                // No strings at all is illegal (RFC 1035 §3.3.14) but is
                // seen on the wire and in the RFC 7208 suite (`null-text`):
                // it loads, so that tests can serve it.
                let mut size = 0;
                let mut strings = Vec::with_capacity(rdata.len());
                for token in rdata {
                    let octets = token.octets()?;
                    if octets.len() > MAX_CHARACTER_STRING {
                        return syntax(
                            token.line,
                            format!("string of {} octets, longer than {MAX_CHARACTER_STRING}", octets.len()),
                        );
                    }
                    size += 1 + octets.len();
                    if size > MAX_RDATA {
                        return syntax(token.line, format!("{what} data longer than {MAX_RDATA} octets"));
                    }
                    strings.push(octets);
                }
                if rtype == MasterType::Spf { Data::Spf } else { Data::Txt(strings) }
            }
            MasterType::Soa => {
                let soa = fields(7, "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM")?;
                soa[0].name(&self.origin)?;
                soa[1].name(&self.origin)?;
                let mut numbers = [0u32; 5];
                for (value, token) in numbers.iter_mut().zip(&soa[2..]) {
                    let text = token.bare()?;
                    *value = parse_ttl(text).ok_or_else(|| SyntaxError {
                        line: token.line,
                        message: format!("bad SOA number {}", lossy(text)),
                    })?;
                }
                Data::Soa { minimum: numbers[4] }
            }
            MasterType::Other => {
                if rdata.is_empty() {
                    return syntax(line, format!("{what} record without data"));
                }
                Data::Exists
            }
        })
    }
}
