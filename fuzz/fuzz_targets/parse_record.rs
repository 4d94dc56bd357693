//! Any bytes: the parser returns a record or an error, never panics, and a
//! parsed record prints as text that parses back to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spf_core::Record;

fuzz_target!(|data: &[u8]| {
    for input in [data.to_vec(), [b"v=spf1 ".as_slice(), data].concat()] {
        if let Ok(record) = Record::parse_bytes(&input) {
            let printed = record.to_string();
            let again = Record::parse(&printed).expect("a printed record parses");
            assert_eq!(again, record, "{printed}");
            assert_eq!(again.to_string(), printed);
        }
    }
});
