//! Integration tests for spf-core (one binary; modules by topic).

mod headers;
mod hostile;
mod properties;
mod zone_file;
