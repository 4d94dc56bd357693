//! Any bytes as a master file. Loading returns a zone or a syntax error,
//! never panics; a zone that loads answers lookups of its own names (and of
//! names derived from them) without panicking, and the text of every name
//! it gives out reads back as the same name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spf_core::dns::{ChainEnd, Lookup, RecordType, Records, Zone, name_labels, name_text};

const TYPES: [RecordType; 5] =
    [RecordType::Txt, RecordType::A, RecordType::Aaaa, RecordType::Mx, RecordType::Ptr];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(zone) = Zone::from_master_str(&text, "fuzz") else { return };
    // Names to ask: every owner-looking first word, the names the zone
    // gives out, and their parents.
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.starts_with('$') && !w.starts_with(';'))
        .take(32)
        .map(str::to_string)
        .collect();
    names.extend(zone.spf_rr_names());
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut i = 0;
    while i < names.len() && i < 64 {
        let name = names[i].clone();
        i += 1;
        let labels = name_labels(&name);
        // A name whose first label is empty has no text of its own (see
        // `name_text`); SPF never asks for one.
        if labels.iter().all(|l| !l.is_empty()) {
            let printed = name_text(&labels);
            assert_eq!(name_labels(&printed), labels, "{name:?} printed as {printed:?}");
        }
        if let Some((_, parent)) = name.split_once('.') {
            names.push(parent.to_string());
        }
        for rtype in TYPES {
            let chain = zone.cname_chain(&name, rtype, 8);
            for hop in &chain.hops {
                names.push(hop.target.clone());
            }
            if let ChainEnd::Answer(Ok(answer)) = &chain.end
                && let Records::Mx(hosts) | Records::Ptr(hosts) = &answer.records
            {
                names.extend(hosts.iter().take(4).map(|h| h.to_string()));
            }
            let _ = runtime.block_on(zone.lookup(&name, rtype));
        }
        let _ = zone.cname(&name);
    }
    assert!(zone.queries().len() as u64 <= zone.query_count());
});
