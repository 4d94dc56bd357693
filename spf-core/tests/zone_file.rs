//! Tests of the in-memory zone and its master-file loader.
