//! `onsim card`: a virtual My Number card on a vpcd socket.

use clap::Args;

use crate::error::{CliError, CmdResult};

#[derive(Debug, Args)]
pub struct CardArgs {
    /// vpcd address to connect to (use 127.0.0.1; vpcd listens on all interfaces).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
    pub vpcd: String,
}

pub fn run(_args: CardArgs) -> CmdResult {
    Err(CliError::new("onsim card: not built yet"))
}
