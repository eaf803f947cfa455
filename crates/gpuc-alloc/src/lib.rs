//! The allocator the `gpuc` binary runs on, and how it is tuned for a large estate.
//!
//! This crate exists so that the foreign-function calls it makes stay out of `gpuc`, which
//! forbids `unsafe` code.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `mi_option_e` of the `mimalloc.h` that libmimalloc-sys 0.1.49
/// builds (its Rust bindings name no constant for it); the test below holds it to that option.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes memory for a large estate (gpuc asks for it before checking 32 MiB of spec or more):
///
/// - Freed pages go back to the operating system as soon as they empty, instead of one second
///   later (mimalloc's default purge delay). Lowering a 100,000-host estate frees its gigabyte
///   of syntax trees while it builds the model; with the delay, most of the freed trees were
///   still resident when the model was complete, and the peak was 1.7-1.8 GB instead of 1.5 GB.
/// - No more transparent huge pages for the process. mimalloc asks for them (`madvise`), and
///   where the kernel's THP defrag setting is `madvise` (the default) every huge-page fault
///   compacts memory first: system time of a 100,000-host check was 1.7-7.7 s with them and
///   1.1-1.6 s without. A 10,000-host check is faster with them (fewer faults: 0.20 s instead
///   of 0.29 s), hence only for a large estate.
///
/// Measurements are in PERFORMANCE.md.
pub fn tune_for_large_estate() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; mimalloc
    // documents that options may be set at any time, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and only sets a flag of this
    // process; its failure (an old kernel) leaves huge pages on, which is only slower.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_sets_the_purge_delay_and_disables_huge_pages() {
        // SAFETY: reading an option is a read of mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(default, 1000, "mimalloc 3 documents a purge delay of 1000 ms by default");
        tune_for_large_estate();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 0);
        // SAFETY: PR_GET_THP_DISABLE only reads this process's flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
    }
}
