//! Postfix's SMTP access policy delegation protocol (SMTPD_POLICY_README):
//! a request is `name=value` lines ended by an empty line; the answer is
//! `action=...` and an empty line; a connection carries many requests.
//!
//! Everything is bounded: a line ([`MAX_LINE_BYTES`]), a request
//! ([`MAX_REQUEST_BYTES`], [`MAX_ATTRIBUTES`]). Past a bound the rest of the
//! request is read and dropped (nothing more is kept) and the request is
//! answered as invalid, so the connection stays in step with the client.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest attribute line (`name=value`, without the newline). Postfix's
/// longest attributes (a sender of 64 + 1 + 255 octets, TLS subjects, SASL
/// names) stay far below; 8 KiB leaves room without letting a client make
/// us keep much.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Largest request (all its lines). Postfix 3.7 sends about 30 attributes,
/// typically under 1 KiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Most attribute lines in one request.
pub const MAX_ATTRIBUTES: usize = 256;

/// How long a connection may wait between requests. Postfix closes an idle
/// policy connection after `smtpd_policy_service_max_idle` (300 s), so it
/// closes first; this only frees slots held by other clients.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(330);

/// How long the rest of a request may take once its first byte came:
/// Postfix writes a request in one go.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long writing one answer may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The attributes a decision uses (others are read and dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `request` (must be `smtpd_access_policy`).
    pub request: Option<String>,
    /// `protocol_state` (RCPT, DATA, ...).
    pub protocol_state: Option<String>,
    /// `instance`: the same for every request of one SMTP transaction.
    pub instance: Option<String>,
    /// `client_address`.
    pub client_address: Option<String>,
    /// `helo_name`.
    pub helo_name: Option<String>,
    /// `sender` (empty: the null sender).
    pub sender: Option<String>,
    /// `recipient`.
    pub recipient: Option<String>,
    /// `queue_id`.
    pub queue_id: Option<String>,
    /// How many attribute lines came.
    pub attributes: usize,
}

/// Why a request cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A line longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// More than [`MAX_REQUEST_BYTES`] in all.
    RequestTooLarge,
    /// More than [`MAX_ATTRIBUTES`] lines.
    TooManyAttributes,
    /// A line without `=`, or with an empty name (its number in the request).
    Malformed(usize),
    /// A value that is not UTF-8 (the attribute's name).
    NotUtf8(String),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::LineTooLong => write!(f, "an attribute line is longer than {MAX_LINE_BYTES} bytes"),
            Invalid::RequestTooLarge => write!(f, "the request is larger than {MAX_REQUEST_BYTES} bytes"),
            Invalid::TooManyAttributes => write!(f, "the request has more than {MAX_ATTRIBUTES} attributes"),
            Invalid::Malformed(n) => write!(f, "line {n} of the request is not name=value"),
            Invalid::NotUtf8(name) => write!(f, "the value of {name} is not UTF-8"),
        }
    }
}

/// What reading from a connection gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A complete request.
    Request(Request),
    /// A complete request that broke a rule; answer it and go on.
    Invalid(Invalid),
    /// The client closed the connection between requests.
    Closed,
    /// The client closed the connection in the middle of a request
    /// (bytes of it received).
    ClosedMidRequest(usize),
    /// Nothing came for [`IDLE_TIMEOUT`], or a started request did not end
    /// within [`REQUEST_TIMEOUT`].
    TimedOut {
        /// Whether a request had started.
        mid_request: bool,
    },
    /// A read error.
    Error(String),
}

/// Reads one request: lines up to an empty line, each bounded; nothing
/// beyond the bounds is kept.
pub async fn read_request<R: AsyncBufRead + Unpin>(reader: &mut R, idle: Duration) -> Read {
    let mut request = Request::default();
    let mut invalid: Option<Invalid> = None;
    let mut total = 0usize;
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let mut lines = 0usize;
    let started = tokio::time::Instant::now();
    loop {
        // One line, bounded: bytes past MAX_LINE_BYTES are consumed, not kept.
        line.clear();
        let mut too_long = false;
        loop {
            let wait = if total == 0 && line.is_empty() {
                idle
            } else {
                REQUEST_TIMEOUT.saturating_sub(started.elapsed())
            };
            let buf = match tokio::time::timeout(wait, reader.fill_buf()).await {
                Err(_) => return Read::TimedOut { mid_request: total > 0 },
                Ok(Err(e)) => return Read::Error(e.to_string()),
                Ok(Ok(buf)) => buf,
            };
            if buf.is_empty() {
                return if total == 0 { Read::Closed } else { Read::ClosedMidRequest(total) };
            }
            let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(line.len());
            if chunk.len() > room {
                too_long = true;
            }
            line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = done.unwrap_or(buf.len());
            total = total.saturating_add(used);
            reader.consume(used);
            if done.is_some() {
                break;
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() && !too_long {
            // The empty line ends the request.
            return match invalid {
                Some(why) => Read::Invalid(why),
                None => Read::Request(request),
            };
        }
        lines += 1;
        if invalid.is_some() {
            continue;
        }
        if too_long {
            invalid = Some(Invalid::LineTooLong);
        } else if total > MAX_REQUEST_BYTES {
            invalid = Some(Invalid::RequestTooLarge);
        } else if lines > MAX_ATTRIBUTES {
            invalid = Some(Invalid::TooManyAttributes);
        } else {
            match parse_attribute(&line, lines) {
                Ok((name, value)) => {
                    request.attributes += 1;
                    set_attribute(&mut request, name, value);
                }
                Err(why) => invalid = Some(why),
            }
        }
    }
}

fn parse_attribute(line: &[u8], number: usize) -> Result<(&str, String), Invalid> {
    let eq = line.iter().position(|b| *b == b'=').ok_or(Invalid::Malformed(number))?;
    let name = std::str::from_utf8(&line[..eq]).map_err(|_| Invalid::Malformed(number))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Invalid::Malformed(number));
    }
    let value = std::str::from_utf8(&line[eq + 1..]).map_err(|_| Invalid::NotUtf8(name.to_string()))?;
    Ok((name, value.to_string()))
}

fn set_attribute(request: &mut Request, name: &str, value: String) {
    let slot = match name {
        "request" => &mut request.request,
        "protocol_state" => &mut request.protocol_state,
        "instance" => &mut request.instance,
        "client_address" => &mut request.client_address,
        "helo_name" => &mut request.helo_name,
        "sender" => &mut request.sender,
        "recipient" => &mut request.recipient,
        "queue_id" => &mut request.queue_id,
        _ => return,
    };
    *slot = Some(value);
}

/// The answer to one request: `action=<action>` and the empty line.
pub fn answer(action: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(action.len() + 9);
    out.extend_from_slice(b"action=");
    // An action is one line: nothing in it may end the line early.
    out.extend(action.bytes().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8]) -> Vec<Read> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        rt.block_on(async {
            let mut reader = tokio::io::BufReader::with_capacity(64, input);
            let mut out = Vec::new();
            loop {
                let r = read_request(&mut reader, IDLE_TIMEOUT).await;
                let end = matches!(
                    r,
                    Read::Closed | Read::ClosedMidRequest(_) | Read::Error(_) | Read::TimedOut { .. }
                );
                out.push(r);
                if end {
                    return out;
                }
            }
        })
    }

    #[test]
    fn two_requests_on_one_connection() {
        let got = read_all(b"request=smtpd_access_policy\nsender=a@b.example\nfoo=bar\n\nrequest=x\r\n\r\n");
        let Read::Request(first) = &got[0] else { panic!("{got:?}") };
        assert_eq!(first.sender.as_deref(), Some("a@b.example"));
        assert_eq!(first.attributes, 3);
        let Read::Request(second) = &got[1] else { panic!("{got:?}") };
        assert_eq!(second.request.as_deref(), Some("x"));
        assert_eq!(got[2], Read::Closed);
    }

    #[test]
    fn empty_values_and_equals_in_values() {
        let got = read_all(b"sender=\nhelo_name=a=b\n\n");
        let Read::Request(r) = &got[0] else { panic!("{got:?}") };
        assert_eq!(r.sender.as_deref(), Some(""));
        assert_eq!(r.helo_name.as_deref(), Some("a=b"));
    }

    #[test]
    fn line_at_and_past_the_bound() {
        let at = format!("helo_name={}\n\n", "a".repeat(MAX_LINE_BYTES - "helo_name=".len()));
        let got = read_all(at.as_bytes());
        assert!(
            matches!(&got[0], Read::Request(r) if r.helo_name.as_ref().map(String::len) == Some(MAX_LINE_BYTES - 10))
        );
        let past = format!(
            "helo_name={}\nsender=x\n\nrequest=y\n\n",
            "a".repeat(MAX_LINE_BYTES - "helo_name=".len() + 1)
        );
        let got = read_all(past.as_bytes());
        assert_eq!(got[0], Read::Invalid(Invalid::LineTooLong));
        assert!(
            matches!(&got[1], Read::Request(r) if r.request.as_deref() == Some("y")),
            "back in step: {got:?}"
        );
    }

    #[test]
    fn attributes_at_and_past_the_bound() {
        let at = "x=1\n".repeat(MAX_ATTRIBUTES) + "\n";
        assert!(matches!(&read_all(at.as_bytes())[0], Read::Request(r) if r.attributes == MAX_ATTRIBUTES));
        let past = "x=1\n".repeat(MAX_ATTRIBUTES + 1) + "\n";
        assert_eq!(read_all(past.as_bytes())[0], Read::Invalid(Invalid::TooManyAttributes));
    }

    #[test]
    fn request_size_bound() {
        // Lines of 1,000 bytes: 65 of them pass the size bound, under the attribute bound.
        let line = format!("x={}\n", "a".repeat(997));
        let at = line.repeat(MAX_REQUEST_BYTES / line.len()) + "\n";
        assert!(matches!(read_all(at.as_bytes())[0], Read::Request(_)));
        let past = line.repeat(MAX_REQUEST_BYTES / line.len() + 1) + "\n";
        assert_eq!(read_all(past.as_bytes())[0], Read::Invalid(Invalid::RequestTooLarge));
    }

    #[test]
    fn malformed_lines_and_bytes() {
        assert_eq!(read_all(b"no equals sign\n\n")[0], Read::Invalid(Invalid::Malformed(1)));
        assert_eq!(read_all(b"a=1\n=value\n\n")[0], Read::Invalid(Invalid::Malformed(2)));
        assert_eq!(read_all(b"sender=\xff\xfe\n\n")[0], Read::Invalid(Invalid::NotUtf8("sender".into())));
    }

    #[test]
    fn disconnects() {
        assert_eq!(read_all(b"")[0], Read::Closed);
        assert_eq!(read_all(b"request=smtpd_access_policy\nsender=a")[0], Read::ClosedMidRequest(36));
    }

    #[test]
    fn idle_and_stalled_clients_time_out() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("rt");
        rt.block_on(async {
            let (client, server) = tokio::io::duplex(1024);
            let mut reader = tokio::io::BufReader::new(server);
            assert_eq!(read_request(&mut reader, IDLE_TIMEOUT).await, Read::TimedOut { mid_request: false });
            let mut client = client;
            tokio::io::AsyncWriteExt::write_all(&mut client, b"request=smtpd_access_policy\n")
                .await
                .expect("write");
            assert_eq!(read_request(&mut reader, IDLE_TIMEOUT).await, Read::TimedOut { mid_request: true });
        });
    }

    #[test]
    fn answers_are_one_line() {
        assert_eq!(answer("dunno"), b"action=dunno\n\n");
        assert_eq!(answer("prepend X: a\nb"), b"action=prepend X: a b\n\n");
    }
}
