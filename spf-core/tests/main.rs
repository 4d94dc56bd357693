//! Integration tests for spf-core (one binary; modules by topic).

mod headers;
mod hostile;
mod zone_file;
