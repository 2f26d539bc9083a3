//! The built-in strategies: every crate in `guest-strategies/`, compiled to a
//! wasm32-wasip2 component by this crate's build script and embedded, so the
//! binary runs them like any dropped-in `.wasm` with nothing else installed.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component of the built-in strategy `name`: the crate's
/// `[package.metadata.lnpolicy] builtin-name`, else its directory with `_` for `-`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, bytes)| *bytes)
}

/// Names of all built-in strategies, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}
