//! `cargo xtask demo`: set up, build the voter app in release mode, and run the verifier on the demo election
//! (open now) until Ctrl-C.

use crate::run::{cmd, root};
use crate::{app, setup};

/// Options of the demo.
#[derive(clap::Args)]
pub struct Args {
    /// Address the verifier listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
}

/// Runs the demo until Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<()> {
    setup::run()?;
    let dist = app::build_voter_app()?;
    let bin = app::build_binaries(true)?;
    println!();
    println!("demo: starting the verifier on the demo election (a practice election, open now).");
    println!("demo: open http://{}/ in a browser; stop with Ctrl-C.", args.listen);
    println!();
    let status = cmd(bin.join("verifier"))
        .args(["serve", "--demo", "--listen", &args.listen])
        .arg("--web-dir")
        .arg(&dist)
        .current_dir(root())
        .status()?;
    // Ctrl-C reaches the verifier too; it stops gracefully and so does the demo.
    if !status.success() && status.code().is_some() {
        anyhow::bail!("the verifier stopped with {status}");
    }
    Ok(())
}
