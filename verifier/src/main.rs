//! The `verifier` binary: see the library's [`verifier::cli`].

fn main() -> std::process::ExitCode {
    verifier::cli::main()
}
