//! The allocator the `gpuc` binary runs on, and how it is tuned for a large estate.
//!
//! This crate exists so that the foreign-function calls it makes stay out of `gpuc`, which
//! forbids `unsafe` code.

pub use mimalloc::MiMalloc;

/// Tunes memory for a large estate (gpuc asks for it before checking 32 MiB of spec or more):
/// no more transparent huge pages for the process. mimalloc asks for them (`madvise`), and
/// where the kernel's THP defrag setting is `madvise` (the default) every huge-page fault
/// compacts memory first: system time of a 100,000-host check was 1.7-7.7 s with them and
/// 1.1-1.6 s without. A 10,000-host check is faster with them (fewer faults), hence only for
/// a large estate.
///
/// Measurements are in PERFORMANCE.md.
pub fn tune_for_large_estate() {
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
    fn tuning_disables_huge_pages() {
        tune_for_large_estate();
        // SAFETY: PR_GET_THP_DISABLE only reads this process's flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
    }
}
