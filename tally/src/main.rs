//! `tally`: the offline counting tool.

fn main() -> std::process::ExitCode {
    tally::cli::main()
}
