//! Gives the library libspf2's soname, so that programs linked against
//! Debian's libspf2-2 (`NEEDED libspf2.so.2`) load it unchanged.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libspf2.so.2");
    }
}
