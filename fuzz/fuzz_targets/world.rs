//! A small DNS world read from fuzz input, shared by the `evaluate` and
//! `lint` targets.
//!
//! The input is lines (split at `\n`), so seeds are readable and libFuzzer's
//! dictionary (`fuzz/spf.dict`) splices SPF terms into them:
//!
//! ```text
//! @ip 192.0.2.1            client address (default 192.0.2.1)
//! @from user@example.com   MAIL FROM (default user@example.com; "" is <>)
//! @helo mail.example.com   HELO name (default mail.example.com)
//! @mode helo               check the HELO identity instead of MAIL FROM
//! @opts 5                  a number whose bits pick evaluation options
//! @draft v=spf1 ...        lint: this text as a draft (else the domain)
//! @check 192.0.2.7         lint: an address to report on (at most 4)
//! example.com TXT v=spf1 a -all
//! example.com A 192.0.2.1
//! example.com AAAA 2001:db8::1
//! example.com MX 10 mx.example.com
//! 1.2.0.192.in-addr.arpa PTR example.com
//! alias.example.com CNAME example.com
//! slow.example.com TIMEOUT
//! empty.example.com EMPTY
//! ```
//!
//! TXT data is raw bytes (any octets), cut into character-strings at each
//! 0x1F octet; an empty TXT line is a record with no strings. Names and the
//! other fields are read as UTF-8 (lossily). At most [`MAX_NAMES`] owner
//! names and [`MAX_RECORDS`] records: the rest is ignored. Lines that do not
//! parse are ignored too, so every input is a world.

use std::net::{IpAddr, Ipv4Addr};

use spf_core::dns::Zone;

/// Most distinct owner names in a world.
pub const MAX_NAMES: usize = 16;
/// Most records in a world.
pub const MAX_RECORDS: usize = 64;

/// What a fuzz input describes.
pub struct World {
    pub zone: Zone,
    pub ip: IpAddr,
    pub mail_from: String,
    pub helo: String,
    pub helo_mode: bool,
    /// Option bits (see the targets).
    pub opts: u32,
    pub draft: Option<String>,
    pub checks: Vec<IpAddr>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Splits `line` at its first space: (word, rest).
fn word(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

impl World {
    pub fn parse(data: &[u8]) -> World {
        let mut world = World {
            zone: Zone::new(),
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            mail_from: "user@example.com".into(),
            helo: "mail.example.com".into(),
            helo_mode: false,
            opts: 0,
            draft: None,
            checks: Vec::new(),
        };
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut records = 0;
        for line in data.split(|&b| b == b'\n') {
            let (first, rest) = word(line);
            match first {
                b"@ip" => {
                    if let Ok(ip) = spf_core::parse_ip(&text(rest)) {
                        world.ip = ip;
                    }
                }
                b"@from" => world.mail_from = text(rest),
                b"@helo" => world.helo = text(rest),
                b"@mode" => world.helo_mode = rest == b"helo",
                b"@opts" => world.opts = text(rest).trim().parse().unwrap_or(0),
                b"@draft" => world.draft = Some(text(rest)),
                b"@check" => {
                    if let Ok(ip) = spf_core::parse_ip(&text(rest))
                        && world.checks.len() < 4
                    {
                        world.checks.push(ip);
                    }
                }
                _ => {
                    if records >= MAX_RECORDS || first.is_empty() {
                        continue;
                    }
                    let known = names.iter().any(|n| n.eq_ignore_ascii_case(first));
                    if !known {
                        if names.len() >= MAX_NAMES {
                            continue;
                        }
                        names.push(first.to_vec());
                    }
                    if world.add(&text(first), rest) {
                        records += 1;
                    }
                }
            }
        }
        world
    }

    /// Adds the record `TYPE DATA` at `name`; whether it was one.
    fn add(&mut self, name: &str, line: &[u8]) -> bool {
        let (rtype, data) = word(line);
        let zone = &mut self.zone;
        match rtype {
            b"TXT" => {
                let strings = if data.is_empty() {
                    Vec::new()
                } else {
                    data.split(|&b| b == 0x1f).map(<[u8]>::to_vec).collect()
                };
                zone.add_txt(name, strings);
            }
            b"A" => match text(data).parse() {
                Ok(a) => zone.add_a(name, a),
                Err(_) => return false,
            },
            b"AAAA" => match text(data).parse() {
                Ok(a) => zone.add_aaaa(name, a),
                Err(_) => return false,
            },
            b"MX" => {
                let (pref, exchange) = word(data);
                match text(pref).parse() {
                    Ok(pref) => zone.add_mx(name, pref, &text(exchange)),
                    Err(_) => return false,
                }
            }
            b"PTR" => zone.add_ptr(name, &text(data)),
            b"CNAME" => zone.add_cname(name, &text(data)),
            b"TIMEOUT" => zone.add_timeout(name),
            b"EMPTY" => zone.add_name(name),
            _ => return false,
        }
        true
    }
}
