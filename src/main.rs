/// mimalloc instead of the system allocator: checking an estate allocates millions of small
/// strings and vectors, and glibc's malloc spent a sixth of a 10,000-host check in
/// malloc/free/consolidate (perf, PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gpuc::cli::run(std::env::args_os())
}
