//! Integration tests for spf-core (one binary; modules by topic).

mod headers;
mod zone_file;
