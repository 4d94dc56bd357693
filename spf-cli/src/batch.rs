//! `fastspf check --batch FILE|-`: one check per input line, one JSON object
//! per output line, every check through one checker (one shared cache).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use spf_core::{Checker, CheckerConfig};

use crate::{CheckArgs, IdentityArg, Usage, authserv_id, check_identity, evaluation_json};

/// The longest input line read, in octets. A line holds a client IP, a
/// MAIL FROM address (at most 256 octets, RFC 5321 §4.5.3.1.3) and a HELO
/// name (at most 255, §4.5.3.1.2); a longer line is reported as an error
/// for that line, and the rest of it is skipped without being stored.
pub const MAX_LINE_OCTETS: usize = 4096;

/// Runs the batch: exit status 0 once the input is read to its end (each
/// line's outcome is in its JSON object), 2 when the input cannot be read.
pub fn run(args: &CheckArgs, path: &Path) -> Result<ExitCode> {
    let mut input: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))?;
        Box::new(BufReader::new(file))
    };
    let mut config = CheckerConfig::default();
    config.dns = args.dns.source()?;
    config.options.receiver = args.receiver.clone();
    config.options.trace = args.trace;
    let checker = Checker::new(config).map_err(|e| Usage(e.to_string()))?;
    let authserv = authserv_id(args);
    let mut stdout = io::stdout().lock();
    let mut number = 0u64;
    while let Some(line) = read_line(&mut input, MAX_LINE_OCTETS).context("reading the batch input")? {
        number += 1;
        let value = match parse(&line, args.identity) {
            Parsed::Skip => continue,
            Parsed::Error(error) => {
                let mut value = serde_json::json!({ "line": number, "error": error });
                if let Line::Text(bytes) = &line {
                    value["input"] = String::from_utf8_lossy(bytes).into();
                }
                value
            }
            Parsed::Check { ip, sender, helo } => {
                let eval = check_identity(&checker, args.identity, ip, &sender, &helo);
                let mut value = evaluation_json(&eval, args.receiver.as_deref(), &authserv);
                value["line"] = number.into();
                value
            }
        };
        let text = serde_json::to_string(&value).context("encoding JSON")?;
        // One object per line, flushed at once: a program feeding lines on a
        // pipe reads each answer before it writes the next question.
        let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
        match written {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            other => other.context("writing the result")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One input line, without its line break.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's octets (at most the bound).
    Text(Vec<u8>),
    /// The line was longer than the bound; its octets were skipped.
    TooLong,
}

/// Reads one line of at most `max` octets (LF or CRLF ends it); `None` at the
/// end of the input. A longer line is consumed to its end but not stored.
pub fn read_line(input: &mut impl BufRead, max: usize) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        read_any = true;
        let (chunk, used, end) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > max + 1 {
                // One octet of slack for the CR of a CRLF line ending.
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        input.consume(used);
        if end {
            break;
        }
    }
    if !read_any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(if too_long || line.len() > max { Line::TooLong } else { Line::Text(line) }))
}

/// What one input line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A blank line or a `#` comment.
    Skip,
    /// A line that is not `IP SENDER [HELO]`: why.
    Error(String),
    /// A check to run.
    Check {
        /// The client.
        ip: std::net::IpAddr,
        /// MAIL FROM ("" for the null reverse-path).
        sender: String,
        /// The HELO name ("" when the line has none).
        helo: String,
    },
}

/// Parses `IP SENDER [HELO]`, fields separated by spaces or tabs. The null
/// reverse-path is written `<>` (or `""`); `<addr>` stands for `addr`.
pub fn parse(line: &Line, identity: Option<IdentityArg>) -> Parsed {
    let bytes = match line {
        Line::TooLong => return Parsed::Error(format!("the line is longer than {MAX_LINE_OCTETS} octets")),
        Line::Text(bytes) => bytes,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Parsed::Error("the line is not UTF-8".to_string());
    };
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Parsed::Skip;
    }
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let (ip, sender, helo) = match fields[..] {
        [ip, sender] => (ip, sender, ""),
        [ip, sender, helo] => (ip, sender, helo),
        _ => {
            return Parsed::Error(format!("expected \"IP SENDER [HELO]\", found {} fields", fields.len()));
        }
    };
    let ip = match spf_core::parse_ip(ip) {
        Ok(ip) => ip,
        Err(e) => return Parsed::Error(e.to_string()),
    };
    let sender = match sender {
        "<>" | "\"\"" => "",
        s => s.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(s),
    };
    let helo_needed = matches!(identity, Some(IdentityArg::Helo)) || sender.is_empty();
    if helo_needed && helo.is_empty() {
        return Parsed::Error(
            "a HELO name is needed to check the HELO identity or a null sender".to_string(),
        );
    }
    Parsed::Check { ip, sender: sender.to_string(), helo: helo.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = BufReader::with_capacity(7, input);
        std::iter::from_fn(|| read_line(&mut reader, max).expect("in-memory read")).collect()
    }

    #[test]
    fn lines_are_bounded_and_the_rest_of_a_long_line_is_skipped() {
        let at_bound = "a".repeat(20);
        let past = "b".repeat(21);
        let input = format!("{at_bound}\n{past}\r\nshort\r\n\nlast");
        assert_eq!(
            lines(input.as_bytes(), 20),
            [
                Line::Text(at_bound.into_bytes()),
                Line::TooLong,
                Line::Text(b"short".to_vec()),
                Line::Text(Vec::new()),
                Line::Text(b"last".to_vec()),
            ]
        );
        assert_eq!(lines(format!("{}\r\n", "c".repeat(20)).as_bytes(), 20), [Line::Text(vec![b'c'; 20])]);
        assert_eq!(lines(b"", 20), []);
    }

    #[test]
    fn fields() {
        let parse_text = |text: &str| parse(&Line::Text(text.as_bytes().to_vec()), None);
        assert_eq!(parse_text("  # a comment"), Parsed::Skip);
        assert_eq!(parse_text(" \t "), Parsed::Skip);
        assert_eq!(
            parse_text("192.0.2.1 <a@b.example>\tmail.example"),
            Parsed::Check {
                ip: "192.0.2.1".parse().expect("ip"),
                sender: "a@b.example".into(),
                helo: "mail.example".into()
            }
        );
        assert!(
            matches!(parse_text("192.0.2.1 <> h.example"), Parsed::Check { sender, .. } if sender.is_empty())
        );
        assert!(matches!(parse_text("192.0.2.1 <>"), Parsed::Error(e) if e.contains("HELO")));
        assert!(matches!(parse_text("192.0.2.1"), Parsed::Error(e) if e.contains("1 fields")));
        assert!(matches!(parse_text("1 2 3 4"), Parsed::Error(e) if e.contains("4 fields")));
        assert!(matches!(parse_text("nope a@b.example"), Parsed::Error(_)));
        assert!(
            matches!(parse(&Line::Text(vec![0xff, b' ', b'a']), None), Parsed::Error(e) if e.contains("UTF-8"))
        );
        assert!(matches!(parse(&Line::TooLong, None), Parsed::Error(e) if e.contains("4096")));
        let helo = parse(&Line::Text(b"192.0.2.1 a@b.example".to_vec()), Some(IdentityArg::Helo));
        assert!(matches!(helo, Parsed::Error(e) if e.contains("HELO")));
    }
}
