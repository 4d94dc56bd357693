//! Integration tests for spf-core (one binary; modules by topic).

mod cache;
mod headers;
mod hostile;
mod issue_14;
mod lint;
mod properties;
mod real_dns;
mod speculation;
mod zone_file;
