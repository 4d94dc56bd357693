//! libspf2's DNS layers (`SPF_dns_server_t`) and answers (`SPF_dns_rr_t`).
//!
//! A server asks the top layer of a stack; each layer answers or passes
//! the question to `layer_below`. This library's own layers:
//!
//! * **resolv** (`SPF_dns_resolv_new`): real DNS through fastspf's resolver
//!   (hickory, `/etc/resolv.conf`) and its shared, bounded, TTL-honouring
//!   cache. Only the types SPF uses are queried (TXT, A, AAAA, MX, PTR);
//!   the obsolete SPF type (99) and anything else get "no data" without a
//!   query (RFC 7208 §3.1, §14.1).
//! * **cache** (`SPF_dns_cache_new`) and **null** (`SPF_dns_null_new`): pass
//!   every question down. fastspf's cache sits in the resolv layer; over a
//!   program's own layer (Exim's), that program's resolver caches.
//! * **zone** (`SPF_dns_zone_new`, `SPF_dns_zone_add_str`): answers from
//!   entries added at run time (wildcards `*.example.com` and `ns_t_any`
//!   entries as libspf2 documents them), else asks the layer below.
//!
//! Any other layer is the caller's (Exim builds one around its own DNS
//! code): its `lookup` function is called and its answer read back, within
//! the bounds below. When a stack is made only of this library's layers,
//! checks never go through `SPF_dns_rr_t` at all.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_int, c_void};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use crate::abi::*;
use crate::boundary::{MAX_INPUT_LEN, bytes, c_strdup, free_slot, guard, new_zeroed, text};
use crate::bridge;

/// Most records read from one answer of a caller's layer: 4,096. A DNS
/// message holds at most 65,535 octets and the smallest record SPF reads
/// (A) takes 16 of them on the wire.
pub(crate) const MAX_RR_PER_ANSWER: usize = 4096;
/// Longest name or text read from one record of a caller's layer: 65,535
/// octets (a whole DNS message).
pub(crate) const MAX_RR_TEXT: usize = 65_535;
/// Deepest stack of layers followed (and deepest nesting of
/// `SPF_dns_lookup` calls): 32. A stack that loops back on itself ends
/// there with a temporary error instead of recursing forever.
pub(crate) const MAX_LAYERS: usize = 32;
/// Most entries (names and types) one zone layer holds: 10,000. A zone
/// layer holds overrides and test data, and each addition and lookup scans
/// it (in libspf2's order: the first match wins).
pub(crate) const MAX_ZONE_ENTRIES: usize = 10_000;

/// One record of an answer. MX and PTR targets are names, kept as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RrData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Text(Vec<u8>),
}

/// An answer: libspf2's `herrno` and the records.
#[derive(Clone, Debug)]
pub(crate) struct RrSet {
    pub herrno: SPF_dns_stat_t,
    pub ttl: u32,
    pub rr_type: ns_type,
    pub data: Vec<RrData>,
}

impl RrSet {
    fn empty(herrno: SPF_dns_stat_t, rr_type: ns_type) -> RrSet {
        RrSet { herrno, ttl: 0, rr_type, data: Vec::new() }
    }
}

/// Where a question ends up.
#[derive(Debug)]
pub(crate) enum Step {
    /// At this library's resolv layer: ask fastspf's resolver.
    Resolver,
    /// Answered by a zone layer or a caller's layer.
    Answer(RrSet),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Resolv,
    Cache,
    Null,
    Zone,
}

/// Marks `hook` as ours (a caller's layer may keep anything in `hook`).
const MAGIC: u64 = 0x6661_7374_7370_6632; // "fastspf2"

#[derive(Debug)]
struct LayerData {
    magic: u64,
    kind: Kind,
    zone: Mutex<Vec<ZoneEntry>>,
}

#[derive(Debug)]
struct ZoneEntry {
    /// Lower case, no trailing dot; may start with `*.`.
    domain: String,
    rr_type: ns_type,
    herrno: SPF_dns_stat_t,
    data: Vec<RrData>,
}

/// This library's data of `layer`, when it is one of ours.
///
/// # Safety
/// `layer` is NULL or a valid `SPF_dns_server_t`.
unsafe fn ours<'a>(layer: *mut SPF_dns_server_t) -> Option<&'a LayerData> {
    if layer.is_null() {
        return None;
    }
    // SAFETY: valid, per the caller.
    let l = unsafe { &*layer };
    let lookup = l.lookup? as *const () as usize;
    let known = [
        resolv_lookup as *const () as usize,
        pass_lookup as *const () as usize,
        zone_lookup as *const () as usize,
    ];
    if l.hook.is_null() || !known.contains(&lookup) {
        return None;
    }
    // SAFETY: our lookup functions are only ever installed next to a hook
    // that is a LayerData (see `new_layer`).
    let data = unsafe { &*l.hook.cast::<LayerData>() };
    (data.magic == MAGIC).then_some(data)
}

fn new_layer(
    kind: Kind,
    below: *mut SPF_dns_server_t,
    name: *const c_char,
    debug: c_int,
) -> *mut SPF_dns_server_t {
    let layer = new_zeroed::<SPF_dns_server_t>();
    if layer.is_null() {
        return layer;
    }
    let default_name: &[u8] = match kind {
        Kind::Resolv => b"resolv",
        Kind::Cache => b"cache",
        Kind::Null => b"null",
        Kind::Zone => b"zone",
    };
    // SAFETY: `name` is NULL or a C string, per libspf2's contract.
    let name = unsafe { bytes(name) }.unwrap_or(default_name);
    let data = Box::new(LayerData { magic: MAGIC, kind, zone: Mutex::new(Vec::new()) });
    // SAFETY: `layer` is a fresh, zeroed SPF_dns_server_t.
    unsafe {
        let l = &mut *layer;
        l.destroy = Some(layer_destroy);
        l.lookup = Some(match kind {
            Kind::Resolv => resolv_lookup,
            Kind::Cache | Kind::Null => pass_lookup,
            Kind::Zone => zone_lookup,
        });
        l.layer_below = below;
        l.name = c_strdup(&name[..name.len().min(MAX_INPUT_LEN)]);
        l.debug = debug;
        l.hook = Box::into_raw(data).cast();
    }
    layer
}

/// The `destroy` of this library's layers: frees the layer itself (the
/// layers below are freed by `SPF_dns_free`).
unsafe extern "C" fn layer_destroy(layer: *mut SPF_dns_server_t) {
    guard((), || {
        // SAFETY: only installed on layers made by `new_layer`.
        unsafe {
            if ours(layer).is_none() {
                return;
            }
            let l = &mut *layer;
            drop(Box::from_raw(l.hook.cast::<LayerData>()));
            l.hook = std::ptr::null_mut();
            let mut name = l.name.cast_mut();
            free_slot(&mut name);
            libc::free(layer.cast());
        }
    })
}

/// Follows the stack from `top` for `name`/`rr_type`.
pub(crate) fn walk(top: *mut SPF_dns_server_t, name: &str, rr_type: ns_type) -> Step {
    if top.is_null() {
        return Step::Answer(RrSet::empty(TRY_AGAIN, rr_type));
    }
    let mut layer = top;
    for _ in 0..MAX_LAYERS {
        if layer.is_null() {
            // libspf2: a layer with nothing below answers "not found".
            return Step::Answer(RrSet::empty(HOST_NOT_FOUND, rr_type));
        }
        // SAFETY: the caller's stack is valid for the duration of a check.
        let below = unsafe { (*layer).layer_below };
        // SAFETY: as above.
        match unsafe { ours(layer) } {
            Some(data) => match data.kind {
                Kind::Resolv => return Step::Resolver,
                Kind::Cache | Kind::Null => layer = below,
                Kind::Zone => match zone_find(data, name, rr_type) {
                    Some(set) => return Step::Answer(set),
                    None => layer = below,
                },
            },
            None => {
                // SAFETY: as above.
                let Some(lookup) = (unsafe { (*layer).lookup }) else {
                    layer = below;
                    continue;
                };
                let Ok(cname) = CString::new(name) else {
                    return Step::Answer(RrSet::empty(HOST_NOT_FOUND, rr_type));
                };
                // SAFETY: calling the caller's layer as libspf2 would.
                let rr = unsafe { lookup(layer, cname.as_ptr(), rr_type, 1) };
                if rr.is_null() {
                    return Step::Answer(RrSet::empty(TRY_AGAIN, rr_type));
                }
                // SAFETY: a layer returns a valid SPF_dns_rr_t, which the
                // asker frees (libspf2's rule).
                let set = unsafe { read_rr(rr) };
                // SAFETY: as above.
                unsafe { SPF_dns_rr_free(rr) };
                return Step::Answer(set);
            }
        }
    }
    Step::Answer(RrSet::empty(TRY_AGAIN, rr_type))
}

/// Reads an answer, within [`MAX_RR_PER_ANSWER`] and [`MAX_RR_TEXT`].
///
/// # Safety
/// `rr` is a valid `SPF_dns_rr_t` whose `rr` array holds `num_rr` entries
/// of its `rr_type`.
unsafe fn read_rr(rr: *const SPF_dns_rr_t) -> RrSet {
    // SAFETY: valid, per the caller.
    let r = unsafe { &*rr };
    let ttl = u32::try_from(r.ttl.max(0)).unwrap_or(u32::MAX);
    let mut set = RrSet { herrno: r.herrno, ttl, rr_type: r.rr_type, data: Vec::new() };
    if r.herrno != NETDB_SUCCESS || r.rr.is_null() {
        return set;
    }
    let count = usize::try_from(r.num_rr).unwrap_or(0).min(MAX_RR_PER_ANSWER);
    for i in 0..count {
        // SAFETY: `i < num_rr`, per the caller.
        let entry = unsafe { *r.rr.add(i) };
        if entry.is_null() {
            continue;
        }
        let data = match r.rr_type {
            // SAFETY: an A entry is a struct in_addr (4 bytes, network order).
            ns_t_a => RrData::A(Ipv4Addr::from(unsafe { *entry.cast::<[u8; 4]>() })),
            // SAFETY: an AAAA entry is a struct in6_addr.
            ns_t_aaaa => RrData::Aaaa(Ipv6Addr::from(unsafe { *entry.cast::<[u8; 16]>() })),
            ns_t_txt | ns_t_mx | ns_t_ptr | ns_t_spf => {
                let p = entry.cast::<c_char>();
                // SAFETY: a NUL-terminated string; read at most MAX_RR_TEXT bytes of it.
                let len = unsafe { libc::strnlen(p, MAX_RR_TEXT) };
                // SAFETY: `len` bytes are readable.
                RrData::Text(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec())
            }
            _ => continue,
        };
        set.data.push(data);
    }
    set
}

/// An answer as a freshly allocated `SPF_dns_rr_t` from `source`.
fn to_rr(source: *mut SPF_dns_server_t, domain: &[u8], set: &RrSet) -> *mut SPF_dns_rr_t {
    let ttl = c_int::try_from(set.ttl).unwrap_or(c_int::MAX);
    let rr = new_rr(source, domain, set.rr_type, ttl, set.herrno);
    if rr.is_null() {
        return rr;
    }
    let mut stored = 0usize;
    for data in set.data.iter().take(MAX_RR_PER_ANSWER) {
        let bytes: Vec<u8> = match data {
            RrData::A(a) => a.octets().to_vec(),
            RrData::Aaaa(a) => a.octets().to_vec(),
            RrData::Text(t) => {
                let mut t = t[..t.len().min(MAX_RR_TEXT)].to_vec();
                if let Some(nul) = t.iter().position(|&b| b == 0) {
                    t.truncate(nul);
                }
                t.push(0);
                t
            }
        };
        // SAFETY: `rr` is ours; `stored` is the next free slot.
        if unsafe { grow_entry(rr, stored, bytes.len()) } != SPF_E_SUCCESS {
            break;
        }
        // SAFETY: grow_entry made entry `stored` at least `bytes.len()` long.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), (*(*rr).rr.add(stored)).cast::<u8>(), bytes.len())
        };
        stored += 1;
    }
    // SAFETY: `rr` is ours.
    unsafe { (*rr).num_rr = c_int::try_from(stored).unwrap_or(c_int::MAX) };
    rr
}

fn new_rr(
    source: *mut SPF_dns_server_t,
    domain: &[u8],
    rr_type: ns_type,
    ttl: c_int,
    herrno: SPF_dns_stat_t,
) -> *mut SPF_dns_rr_t {
    let rr = new_zeroed::<SPF_dns_rr_t>();
    if rr.is_null() {
        return rr;
    }
    let domain = &domain[..domain.len().min(MAX_RR_TEXT)];
    // SAFETY: fresh and zeroed.
    unsafe {
        let r = &mut *rr;
        r.domain = c_strdup(domain);
        r.domain_buf_len = if r.domain.is_null() { 0 } else { domain.len() + 1 };
        r.rr_type = rr_type;
        r.ttl = libc::time_t::from(ttl.max(0));
        r.utc_ttl = libc::time_t::from(ttl.max(0)) + libc::time(std::ptr::null_mut());
        r.herrno = herrno;
        r.source = source;
    }
    rr
}

/// Makes entry `idx` of `rr` at least `len` bytes (`SPF_dns_rr_buf_realloc`).
///
/// # Safety
/// `rr` is a valid `SPF_dns_rr_t` whose arrays were allocated with `malloc`
/// and hold `rr_buf_num` entries.
unsafe fn grow_entry(rr: *mut SPF_dns_rr_t, idx: usize, len: usize) -> SPF_errcode_t {
    if idx >= MAX_RR_PER_ANSWER {
        return SPF_E_BIG_DNS;
    }
    // SAFETY: valid, per the caller.
    let r = unsafe { &mut *rr };
    let have = usize::try_from(r.rr_buf_num).unwrap_or(0);
    if r.rr.is_null() || r.rr_buf_len.is_null() || idx >= have {
        let want = (idx + 1).max(have * 2).clamp(4, MAX_RR_PER_ANSWER);
        let keep = if r.rr.is_null() || r.rr_buf_len.is_null() { 0 } else { have };
        // SAFETY: arrays are NULL or malloc'ed, per the caller.
        let slots: *mut *mut c_void =
            unsafe { libc::realloc(r.rr.cast(), want * std::mem::size_of::<*mut c_void>()) }.cast();
        if slots.is_null() {
            return SPF_E_NO_MEMORY;
        }
        r.rr = slots;
        // SAFETY: as above.
        let lens: *mut usize =
            unsafe { libc::realloc(r.rr_buf_len.cast(), want * std::mem::size_of::<usize>()) }.cast();
        if lens.is_null() {
            return SPF_E_NO_MEMORY;
        }
        r.rr_buf_len = lens;
        for i in keep..want {
            // SAFETY: within the new arrays.
            unsafe {
                *r.rr.add(i) = std::ptr::null_mut();
                *r.rr_buf_len.add(i) = 0;
            }
        }
        r.rr_buf_num = c_int::try_from(want).unwrap_or(c_int::MAX);
    }
    // SAFETY: `idx < rr_buf_num` now.
    unsafe {
        if *r.rr_buf_len.add(idx) < len || (*r.rr.add(idx)).is_null() {
            let grown = libc::realloc(*r.rr.add(idx), len.max(1));
            if grown.is_null() {
                return SPF_E_NO_MEMORY;
            }
            *r.rr.add(idx) = grown;
            *r.rr_buf_len.add(idx) = len.max(1);
        }
    }
    SPF_E_SUCCESS
}

fn zone_find(data: &LayerData, name: &str, rr_type: ns_type) -> Option<RrSet> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let zone = data.zone.lock().unwrap_or_else(|e| e.into_inner());
    let entry = zone.iter().find(|e| {
        (e.rr_type == rr_type || e.rr_type == ns_t_any)
            && match e.domain.strip_prefix("*.") {
                Some(suffix) => name.len() > suffix.len() + 1 && name.ends_with(&format!(".{suffix}")),
                None => e.domain == name,
            }
    })?;
    Some(RrSet { herrno: entry.herrno, ttl: 24 * 3600, rr_type, data: entry.data.clone() })
}

/// The resolv layer's `lookup`.
unsafe extern "C" fn resolv_lookup(
    layer: *mut SPF_dns_server_t,
    domain: *const c_char,
    rr_type: ns_type,
    _should_cache: c_int,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: a C string, per libspf2's contract.
        let Some(name) = (unsafe { text(domain) }) else {
            return new_rr(layer, b"", rr_type, 0, HOST_NOT_FOUND);
        };
        to_rr(layer, name.as_bytes(), &bridge::resolve_set(&name, rr_type))
    })
}

/// The cache and null layers' `lookup`: ask the layer below.
unsafe extern "C" fn pass_lookup(
    layer: *mut SPF_dns_server_t,
    domain: *const c_char,
    rr_type: ns_type,
    should_cache: c_int,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: valid layer, per libspf2's contract.
        let below = unsafe { (*layer).layer_below };
        if below.is_null() {
            // SAFETY: forwarded.
            return unsafe { SPF_dns_rr_new_nxdomain(layer, domain) };
        }
        // SAFETY: forwarded.
        unsafe { SPF_dns_lookup(below, domain, rr_type, should_cache) }
    })
}

/// The zone layer's `lookup`.
unsafe extern "C" fn zone_lookup(
    layer: *mut SPF_dns_server_t,
    domain: *const c_char,
    rr_type: ns_type,
    should_cache: c_int,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: valid layer and string, per libspf2's contract.
        let (data, name) = unsafe { (ours(layer), text(domain)) };
        if let (Some(data), Some(name)) = (data, name)
            && let Some(set) = zone_find(data, &name, rr_type)
        {
            return to_rr(layer, name.as_bytes(), &set);
        }
        // SAFETY: forwarded.
        unsafe { pass_lookup(layer, domain, rr_type, should_cache) }
    })
}

thread_local! {
    /// Nesting of `SPF_dns_lookup` calls on this thread (see [`MAX_LAYERS`]).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// `SPF_dns_lookup`: asks `layer` (and, through it, the layers below).
/// The caller frees the answer with `SPF_dns_rr_free`.
///
/// # Safety
/// `layer` is NULL or a valid layer; `domain` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_lookup(
    layer: *mut SPF_dns_server_t,
    domain: *const c_char,
    rr_type: ns_type,
    should_cache: c_int,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        /// Undoes this call's count on every way out, panics included.
        struct Nested;
        impl Drop for Nested {
            fn drop(&mut self) {
                DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
            }
        }
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let _nested = Nested;
        if layer.is_null() || depth > MAX_LAYERS {
            // SAFETY: NULL or a C string.
            let name = unsafe { bytes(domain) }.unwrap_or_default();
            new_rr(layer, name, rr_type, 0, if layer.is_null() { HOST_NOT_FOUND } else { TRY_AGAIN })
        } else {
            // SAFETY: valid layer, per the caller.
            match unsafe { (*layer).lookup } {
                // SAFETY: the layer's own function, called as libspf2 calls it.
                Some(lookup) => unsafe { lookup(layer, domain, rr_type, should_cache) },
                // SAFETY: as above.
                None => unsafe { pass_lookup(layer, domain, rr_type, should_cache) },
            }
        }
    })
}

/// `SPF_dns_rlookup`: the PTR (or other `rr_type`) records of an IPv4
/// address's `in-addr.arpa` name.
///
/// # Safety
/// As for [`SPF_dns_lookup`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rlookup(
    layer: *mut SPF_dns_server_t,
    ipv4: libc::in_addr,
    rr_type: ns_type,
    should_cache: c_int,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        let [a, b, c, d] = ipv4.s_addr.to_ne_bytes();
        let name = format!("{d}.{c}.{b}.{a}.in-addr.arpa");
        let name = CString::new(name).unwrap_or_default();
        // SAFETY: forwarded; `name` lives across the call.
        unsafe { SPF_dns_lookup(layer, name.as_ptr(), rr_type, should_cache) }
    })
}

/// `SPF_dns_rlookup6`: the same under `ip6.arpa`.
///
/// # Safety
/// As for [`SPF_dns_lookup`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rlookup6(
    layer: *mut SPF_dns_server_t,
    ipv6: libc::in6_addr,
    rr_type: ns_type,
    should_cache: c_int,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        let mut name = String::new();
        for byte in ipv6.s6_addr.iter().rev() {
            name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
        }
        name.push_str("ip6.arpa");
        let name = CString::new(name).unwrap_or_default();
        // SAFETY: forwarded; `name` lives across the call.
        unsafe { SPF_dns_lookup(layer, name.as_ptr(), rr_type, should_cache) }
    })
}

/// `SPF_dns_resolv_new`: real DNS through fastspf (see the module docs).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_resolv_new(
    layer_below: *mut SPF_dns_server_t,
    name: *const c_char,
    debug: c_int,
) -> *mut SPF_dns_server_t {
    guard(std::ptr::null_mut(), || new_layer(Kind::Resolv, layer_below, name, debug))
}

/// `SPF_dns_cache_new`: passes questions down (fastspf's cache is in the
/// resolv layer); `cache_bits` is accepted and ignored.
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_cache_new(
    layer_below: *mut SPF_dns_server_t,
    name: *const c_char,
    debug: c_int,
    _cache_bits: c_int,
) -> *mut SPF_dns_server_t {
    guard(std::ptr::null_mut(), || new_layer(Kind::Cache, layer_below, name, debug))
}

/// `SPF_dns_null_new`: passes questions down.
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_null_new(
    layer_below: *mut SPF_dns_server_t,
    name: *const c_char,
    debug: c_int,
) -> *mut SPF_dns_server_t {
    guard(std::ptr::null_mut(), || new_layer(Kind::Null, layer_below, name, debug))
}

/// `SPF_dns_zone_new`: an in-memory zone; unknown names go to the layer below.
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_zone_new(
    layer_below: *mut SPF_dns_server_t,
    name: *const c_char,
    debug: c_int,
) -> *mut SPF_dns_server_t {
    guard(std::ptr::null_mut(), || new_layer(Kind::Zone, layer_below, name, debug))
}

/// `SPF_dns_cache_set_ttl`: accepted; fastspf's cache applies its own TTL
/// policy (answers' TTLs, clamped; negative answers per RFC 2308).
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_cache_set_ttl(
    _layer: *mut SPF_dns_server_t,
    _min_ttl: libc::time_t,
    _err_ttl: libc::time_t,
    _txt_ttl: libc::time_t,
    _rdns_ttl: libc::time_t,
) {
}

/// `SPF_dns_set_conserve_cache`: accepted and ignored.
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_set_conserve_cache(_layer: *mut SPF_dns_server_t, _conserve: c_int) {}

/// `SPF_dns_zone_add_str`: adds a record (or, with `herrno` other than
/// `NETDB_SUCCESS`, a negative answer) to a zone layer. `data` is a dotted
/// quad (A), an IPv6 address (AAAA), a name (MX, PTR) or text (TXT, SPF).
///
/// # Safety
/// `layer` is NULL or a valid layer; the strings are NULL or C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_zone_add_str(
    layer: *mut SPF_dns_server_t,
    domain: *const c_char,
    rr_type: ns_type,
    herrno: SPF_dns_stat_t,
    data: *const c_char,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        // SAFETY: per the caller.
        let Some(zone) = (unsafe { ours(layer) }).filter(|d| d.kind == Kind::Zone) else {
            return SPF_E_NOT_CONFIG;
        };
        // SAFETY: per the caller.
        let (Some(domain), data) = (unsafe { bytes(domain) }, unsafe { bytes(data) }) else {
            return SPF_E_INVALID_OPT;
        };
        if domain.len() > MAX_INPUT_LEN || data.is_some_and(|d| d.len() > MAX_RR_TEXT) {
            return SPF_E_BIG_STRING;
        }
        let domain = String::from_utf8_lossy(domain).trim_end_matches('.').to_ascii_lowercase();
        let record = if herrno == NETDB_SUCCESS {
            let Some(data) = data else { return SPF_E_INVALID_OPT };
            let text = String::from_utf8_lossy(data);
            Some(match rr_type {
                ns_t_a => match text.trim().parse() {
                    Ok(a) => RrData::A(a),
                    Err(_) => return SPF_E_INVALID_IP4,
                },
                ns_t_aaaa => match text.trim().parse() {
                    Ok(a) => RrData::Aaaa(a),
                    Err(_) => return SPF_E_INVALID_IP6,
                },
                ns_t_txt | ns_t_spf | ns_t_mx | ns_t_ptr => RrData::Text(data.to_vec()),
                _ => return SPF_E_INVALID_OPT,
            })
        } else {
            None
        };
        let mut entries = zone.zone.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(record) = &record
            && let Some(entry) = entries
                .iter_mut()
                .find(|e| e.domain == domain && e.rr_type == rr_type && e.herrno == NETDB_SUCCESS)
        {
            if entry.data.len() >= MAX_RR_PER_ANSWER {
                return SPF_E_BIG_DNS;
            }
            entry.data.push(record.clone());
            return SPF_E_SUCCESS;
        }
        if entries.len() >= MAX_ZONE_ENTRIES {
            return SPF_E_NO_MEMORY;
        }
        entries.push(ZoneEntry { domain, rr_type, herrno, data: record.into_iter().collect() });
        SPF_E_SUCCESS
    })
}

/// `SPF_dns_free`: destroys `layer` and the layers below it, stopping at
/// the first without a `destroy` function (a layer shared with, or owned
/// by, someone else: libspf2's rule).
///
/// # Safety
/// `layer` is NULL or a valid layer not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_free(layer: *mut SPF_dns_server_t) {
    guard((), || {
        let mut layer = layer;
        for _ in 0..MAX_LAYERS {
            if layer.is_null() {
                return;
            }
            // SAFETY: valid, per the caller.
            let (destroy, below) = unsafe { ((*layer).destroy, (*layer).layer_below) };
            let Some(destroy) = destroy else { return };
            // SAFETY: the layer's own destructor.
            unsafe { destroy(layer) };
            layer = below;
        }
    })
}

/// `SPF_dns_rr_new`: an empty answer ("not found").
#[unsafe(no_mangle)]
pub extern "C" fn SPF_dns_rr_new() -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || new_rr(std::ptr::null_mut(), b"", ns_t_invalid, 0, HOST_NOT_FOUND))
}

/// `SPF_dns_rr_new_init`: an answer without records.
///
/// # Safety
/// `domain` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rr_new_init(
    source: *mut SPF_dns_server_t,
    domain: *const c_char,
    rr_type: ns_type,
    ttl: c_int,
    herrno: SPF_dns_stat_t,
) -> *mut SPF_dns_rr_t {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the caller.
        let domain = unsafe { bytes(domain) }.unwrap_or_default();
        new_rr(source, domain, rr_type, ttl, herrno)
    })
}

/// `SPF_dns_rr_new_nxdomain`: a "host not found" answer.
///
/// # Safety
/// As for [`SPF_dns_rr_new_init`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rr_new_nxdomain(
    source: *mut SPF_dns_server_t,
    domain: *const c_char,
) -> *mut SPF_dns_rr_t {
    // SAFETY: forwarded.
    unsafe { SPF_dns_rr_new_init(source, domain, ns_t_any, 0, HOST_NOT_FOUND) }
}

/// `SPF_dns_rr_free`: frees an answer, its name and its records.
///
/// # Safety
/// `rr` is NULL or an answer whose buffers were allocated with `malloc`
/// (by this library, or by a caller following libspf2's rules).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rr_free(rr: *mut SPF_dns_rr_t) {
    guard((), || {
        if rr.is_null() {
            return;
        }
        // SAFETY: per the caller.
        unsafe {
            let r = &mut *rr;
            free_slot(&mut r.domain);
            if !r.rr.is_null() {
                for i in 0..usize::try_from(r.rr_buf_num).unwrap_or(0) {
                    free_slot(&mut *r.rr.add(i));
                }
            }
            free_slot(&mut r.rr);
            free_slot(&mut r.rr_buf_len);
            libc::free(rr.cast());
        }
    })
}

/// `SPF_dns_rr_buf_realloc`: makes record `idx` of `rr` at least `len`
/// bytes, growing the arrays as needed (at most [`MAX_RR_PER_ANSWER`] records).
///
/// # Safety
/// `rr` is NULL or a valid answer whose arrays were allocated with `malloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rr_buf_realloc(
    rr: *mut SPF_dns_rr_t,
    idx: c_int,
    len: usize,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        let Ok(idx) = usize::try_from(idx) else { return SPF_E_INVALID_OPT };
        if rr.is_null() {
            return SPF_E_INVALID_OPT;
        }
        if len > MAX_RR_TEXT + 1 {
            return SPF_E_BIG_STRING;
        }
        // SAFETY: per the caller.
        unsafe { grow_entry(rr, idx, len) }
    })
}

/// `SPF_dns_rr_dup`: a deep copy of `src` in `*dstp` (Exim builds answers
/// on its stack and hands them over this way). Records are copied by
/// `rr_type`: 4 bytes (A), 16 (AAAA), a C string (MX, PTR, TXT, SPF).
///
/// # Safety
/// `dstp` is valid for a write; `src` is NULL or a valid answer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SPF_dns_rr_dup(
    dstp: *mut *mut SPF_dns_rr_t,
    src: *mut SPF_dns_rr_t,
) -> SPF_errcode_t {
    guard(SPF_E_INTERNAL_ERROR, || {
        if dstp.is_null() || src.is_null() {
            return SPF_E_INVALID_OPT;
        }
        // SAFETY: per the caller.
        let (set, domain, source) = unsafe {
            let s = &*src;
            (read_rr(src), bytes(s.domain).unwrap_or_default().to_vec(), s.source)
        };
        let copy = to_rr(source, &domain, &set);
        // SAFETY: per the caller.
        unsafe { *dstp = copy };
        if copy.is_null() { SPF_E_NO_MEMORY } else { SPF_E_SUCCESS }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_layer_answers_and_wildcards() {
        let zone = SPF_dns_zone_new(std::ptr::null_mut(), std::ptr::null(), 0);
        let add = |d: &str, t, h, v: Option<&str>| {
            let d = CString::new(d).expect("no nul");
            let v = v.map(|v| CString::new(v).expect("no nul"));
            // SAFETY: valid layer and strings.
            unsafe {
                SPF_dns_zone_add_str(
                    zone,
                    d.as_ptr(),
                    t,
                    h,
                    v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
                )
            }
        };
        assert_eq!(add("example.com", ns_t_txt, NETDB_SUCCESS, Some("v=spf1 -all")), SPF_E_SUCCESS);
        assert_eq!(add("example.com", ns_t_a, NETDB_SUCCESS, Some("192.0.2.1")), SPF_E_SUCCESS);
        assert_eq!(add("example.com", ns_t_a, NETDB_SUCCESS, Some("192.0.2.2")), SPF_E_SUCCESS);
        assert_eq!(add("*.example.org", ns_t_any, HOST_NOT_FOUND, None), SPF_E_SUCCESS);
        assert_eq!(add("bad.example", ns_t_a, NETDB_SUCCESS, Some("nope")), SPF_E_INVALID_IP4);
        let Step::Answer(a) = walk(zone, "EXAMPLE.com.", ns_t_a) else { panic!("zone answers") };
        assert_eq!(a.data, [RrData::A([192, 0, 2, 1].into()), RrData::A([192, 0, 2, 2].into())]);
        let Step::Answer(w) = walk(zone, "x.y.example.org", ns_t_mx) else { panic!("wildcard") };
        assert_eq!(w.herrno, HOST_NOT_FOUND);
        let Step::Answer(n) = walk(zone, "example.org", ns_t_mx) else { panic!("nothing below") };
        assert_eq!(n.herrno, HOST_NOT_FOUND, "the wildcard does not cover its own apex");
        // The same answers through the C entry point, then duplicated and freed.
        let name = CString::new("example.com").expect("no nul");
        // SAFETY: valid layer and string; the answers are ours to free.
        unsafe {
            let rr = SPF_dns_lookup(zone, name.as_ptr(), ns_t_a, 1);
            assert_eq!((*rr).num_rr, 2);
            let mut copy = std::ptr::null_mut();
            assert_eq!(SPF_dns_rr_dup(&mut copy, rr), SPF_E_SUCCESS);
            assert_eq!(read_rr(copy).data, read_rr(rr).data);
            SPF_dns_rr_free(copy);
            SPF_dns_rr_free(rr);
            SPF_dns_free(zone);
        }
    }

    #[test]
    fn a_zone_holds_at_most_its_bound() {
        let zone = SPF_dns_zone_new(std::ptr::null_mut(), std::ptr::null(), 0);
        let add = |i: usize| {
            let name = CString::new(format!("n{i}.example")).expect("no nul");
            // SAFETY: valid layer and strings.
            unsafe { SPF_dns_zone_add_str(zone, name.as_ptr(), ns_t_txt, NO_DATA, std::ptr::null()) }
        };
        for i in 0..MAX_ZONE_ENTRIES {
            assert_eq!(add(i), SPF_E_SUCCESS);
        }
        assert_eq!(add(MAX_ZONE_ENTRIES), SPF_E_NO_MEMORY, "one past the bound");
        // SAFETY: ours.
        unsafe { SPF_dns_free(zone) };
    }

    #[test]
    fn answers_are_read_within_bounds() {
        let rr = new_rr(std::ptr::null_mut(), b"example.com", ns_t_txt, 60, NETDB_SUCCESS);
        // SAFETY: `rr` is ours.
        unsafe {
            for i in 0..MAX_RR_PER_ANSWER {
                assert_eq!(grow_entry(rr, i, 2), SPF_E_SUCCESS);
                *(*(*rr).rr.add(i)).cast::<[u8; 2]>() = *b"x\0";
            }
            assert_eq!(grow_entry(rr, MAX_RR_PER_ANSWER, 2), SPF_E_BIG_DNS, "one past the bound");
            (*rr).num_rr = c_int::MAX;
            assert_eq!(read_rr(rr).data.len(), MAX_RR_PER_ANSWER);
            SPF_dns_rr_free(rr);
        }
    }

    #[test]
    fn a_stack_that_loops_ends_in_a_temporary_error() {
        let a = SPF_dns_null_new(std::ptr::null_mut(), std::ptr::null(), 0);
        let b = SPF_dns_null_new(a, std::ptr::null(), 0);
        // SAFETY: both layers are ours; the loop is undone before freeing.
        unsafe {
            (*a).layer_below = b;
            let Step::Answer(set) = walk(b, "example.com", ns_t_txt) else { panic!("no resolver") };
            assert_eq!(set.herrno, TRY_AGAIN);
            let name = CString::new("example.com").expect("no nul");
            let rr = SPF_dns_lookup(b, name.as_ptr(), ns_t_txt, 1);
            assert_eq!((*rr).herrno, TRY_AGAIN);
            SPF_dns_rr_free(rr);
            (*a).layer_below = std::ptr::null_mut();
            SPF_dns_free(b);
        }
    }
}
