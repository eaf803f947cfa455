//! The allocator the `gpuc` binary runs on, and the one setting it changes.
//!
//! This crate exists so that the one foreign-function call it makes stays out of `gpuc`,
//! which forbids `unsafe` code.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `mi_option_e` of the `mimalloc.h` that libmimalloc-sys 0.1.49
/// builds (its Rust bindings name no constant for it); the test below holds it to that option.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Hands a freed page back to the operating system as soon as it empties, instead of one
/// second later (mimalloc's default purge delay). Lowering a 100,000-host estate frees its
/// gigabyte of syntax trees while it builds the model; with the delay, most of the freed trees
/// were still resident when the model was complete, and the peak was 1.7-1.8 GB instead of
/// 1.5 GB (PERFORMANCE.md). For a small estate the delay is cheaper: at 10,000 hosts,
/// returning pages at once costs a sixth more time in page faults, so gpuc asks for it only
/// before a large estate.
pub fn return_freed_memory_promptly() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; mimalloc
    // documents that options may be set at any time, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay() {
        // SAFETY: reading an option is a read of mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(default, 1000, "mimalloc 3 documents a purge delay of 1000 ms by default");
        return_freed_memory_promptly();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 0);
    }
}
