//! Tests of the Received-SPF and Authentication-Results headers.
