//! Bindings for the `fee-strategy` world and the honest parts every hostile
//! guest shares, so each guest crate holds only its attack.
//!
//! A guest implements [`Guest`] and exports it with
//! `hostile_common::bindings::export!(G with_types_in hostile_common::bindings);`.

/// Bindings generated from the project's contract, `wit/strategy.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        world: "fee-strategy",
        path: "../../../wit",
        pub_export_macro: true,
        default_bindings_module: "hostile_common::bindings",
    });
}

pub use bindings::exports::lnpolicy::strategy::strategy::Guest;
pub use bindings::lnpolicy::strategy::host;
pub use bindings::lnpolicy::strategy::types::{
    ChannelView, Decision, LogLevel, Param, StrategyInfo,
};

/// A valid self-description with no parameters.
pub fn info(name: &str, description: &str) -> StrategyInfo {
    StrategyInfo {
        name: name.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        description: description.to_owned(),
        params: Vec::new(),
    }
}

/// A decision that sets only the outbound proportional fee.
pub fn set_fee(channel_id: u64, fee_ppm: u32, reason: String) -> Decision {
    Decision {
        channel_id,
        fee_ppm: Some(fee_ppm),
        ..leave_unchanged(channel_id, reason)
    }
}

/// A decision that keeps every field of the channel's policy.
pub fn leave_unchanged(channel_id: u64, reason: String) -> Decision {
    Decision {
        channel_id,
        fee_ppm: None,
        base_fee_msat: None,
        inbound_fee_ppm: None,
        inbound_base_fee_msat: None,
        min_htlc_msat: None,
        max_htlc_msat: None,
        time_lock_delta: None,
        disabled: None,
        reason,
    }
}

/// Exactly one valid decision per channel, each setting `fee_ppm`.
pub fn fee_for_each(channels: &[ChannelView], fee_ppm: u32, reason: &str) -> Vec<Decision> {
    channels
        .iter()
        .map(|channel| set_fee(channel.channel_id, fee_ppm, reason.to_owned()))
        .collect()
}

/// One valid decision per channel: active channels get `fee_ppm`, inactive
/// ones are left unchanged; every decision carries `reason`.
pub fn fee_for_active(channels: &[ChannelView], fee_ppm: u32, reason: &str) -> Vec<Decision> {
    channels
        .iter()
        .map(|channel| {
            if channel.active {
                set_fee(channel.channel_id, fee_ppm, reason.to_owned())
            } else {
                leave_unchanged(channel.channel_id, reason.to_owned())
            }
        })
        .collect()
}

/// Adds one to the little-endian `u64` counter stored under `key` in the
/// strategy's host state and returns the new count. A missing or malformed
/// value counts as zero.
pub fn bump_counter(key: &str) -> u64 {
    let previous = host::state_get(key)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map_or(0, u64::from_le_bytes);
    let count = previous.wrapping_add(1);
    host::state_set(key, &count.to_le_bytes());
    count
}

/// An allocator that frees nothing, for guests that hand out several strings sharing the same
/// bytes: the post-return frees each of them, and must leave the shared bytes alone. A guest
/// opts in with `#[global_allocator] static A: NeverFree = NeverFree;`.
pub struct NeverFree;

// SAFETY: allocation is the system allocator's; not freeing is always sound.
unsafe impl std::alloc::GlobalAlloc for NeverFree {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to the system allocator as given.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: std::alloc::Layout) {}
}

/// `bytes` of text, and a maker of strings that all point at them, so that a result can hold
/// many strings for the price of one in guest memory. Only sound under [`NeverFree`], and only
/// while nothing writes to the strings.
pub fn shared_text(bytes: usize) -> impl Fn() -> String {
    let mut shared = std::mem::ManuallyDrop::new("x".repeat(bytes));
    let (ptr, len) = (shared.as_mut_ptr(), shared.len());
    // SAFETY: the bytes are never freed (the guest's allocator is `NeverFree`) nor written.
    move || unsafe { String::from_raw_parts(ptr, len, len) }
}
