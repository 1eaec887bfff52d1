//! The `card-helper` binary: see the library's [`card_helper::cli`].

fn main() -> std::process::ExitCode {
    card_helper::cli::main()
}
