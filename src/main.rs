/// mimalloc instead of the system allocator: checking an estate allocates millions of small
/// strings and vectors, and glibc's malloc spent a sixth of a 10,000-host check in
/// malloc/free/consolidate (perf, PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: gpuc_alloc::MiMalloc = gpuc_alloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gpuc::cli::before_large_estate(gpuc_alloc::tune_for_large_estate);
    gpuc::cli::run(std::env::args_os())
}
