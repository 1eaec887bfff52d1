//! The `test-pki` binary: see the library's [`test_pki::cli`].

fn main() -> std::process::ExitCode {
    test_pki::cli::main()
}
