//! `bench`: prepares voters, drives the release verifier with real logins and casts, prints the report as JSON.

fn main() -> std::process::ExitCode {
    bench::main()
}
