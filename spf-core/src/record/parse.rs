//! Record parser (RFC 7208 §4.6.1, §12).
use super::{ParseError, ParseErrorKind, Record};

pub(super) fn parse_record(text: &[u8]) -> Result<Record, ParseError> {
    Err(ParseError { offset: 0, term: String::from_utf8_lossy(text).into_owned(), kind: ParseErrorKind::NotSpf1 })
}
