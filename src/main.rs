fn main() -> std::process::ExitCode {
    gpuc::cli::run(std::env::args_os())
}
