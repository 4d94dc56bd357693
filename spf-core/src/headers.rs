//! Received-SPF (RFC 7208 §9.1) and Authentication-Results (RFC 8601) headers.
