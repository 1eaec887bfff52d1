//! `operator`: the operators' command line for the verifier's operator API.

fn main() -> std::process::ExitCode {
    operator::main()
}
