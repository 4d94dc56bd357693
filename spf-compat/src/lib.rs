//! # spf-compat: libspf2.so.2 over fastspf
//!
//! A shared library with libspf2 1.2.x's soname, symbols, types, constants
//! and memory rules, so that programs built against Debian's `libspf2-2`
//! (Exim's `spf` ACL condition, OpenDMARC, `spfquery`, Mail::SPF_XS) get
//! RFC 7208 evaluation from fastspf without being rebuilt. See
//! `spf-compat/README.md` for how to switch a program or a whole system,
//! and `include/spf2/spf.h` for the ABI and where it differs from libspf2.
//!
//! ```c
//! SPF_server_t *server = SPF_server_new(SPF_DNS_CACHE, 0);
//! SPF_request_t *request = SPF_request_new(server);
//! SPF_request_set_ipv4_str(request, "192.0.2.7");
//! SPF_request_set_helo_dom(request, "mail.example.com");
//! SPF_request_set_env_from(request, "alice@example.com");
//! SPF_response_t *response = NULL;
//! SPF_request_query_mailfrom(request, &response);
//! printf("%s\n", SPF_strresult(SPF_response_result(response)));
//! SPF_response_free(response);
//! SPF_request_free(request);
//! SPF_server_free(server);
//! ```
//!
//! Every export runs behind a panic guard (no Rust panic reaches C), takes
//! NULL without crashing (libspf2 would assert), and hands out memory from
//! the C allocator. Only `bridge.rs` uses spf-core.
//!
//! Dependency direction: `abi, boundary <- strings, dns <- bridge <- record,
//! response <- request <- server`.
#![deny(missing_docs)]
// libspf2's names: SPF_server_new, ns_t_txt, ...
#![allow(non_snake_case, non_upper_case_globals)]

mod abi;
mod boundary;
mod bridge;
mod dns;
mod record;
mod request;
mod response;
mod server;
mod strings;
