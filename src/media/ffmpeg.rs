//! How camvault runs ffmpeg: quiet, never reading stdin, overwriting its output (which is
//! always a temporary name of camvault's own), and what to say when it is missing.

use std::process::{Command, Stdio};

/// What to do when ffmpeg is missing.
pub const INSTALL: &str = "ffmpeg is not installed (`apt-get install ffmpeg`)";

/// `ffmpeg -hide_banner -loglevel error -nostdin -y`, stdin closed: the arguments that
/// follow say what to read and write. `-nostdin` and a null stdin: an ffmpeg started by a
/// daemon must not wait on, or eat, a terminal's input.
pub fn command() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .stdin(Stdio::null());
    c
}

/// ffmpeg could not be started because it is not installed.
#[derive(Debug, thiserror::Error)]
#[error("{INSTALL}: clips get no thumbnails until it is")]
pub struct Missing;

#[cfg(test)]
mod tests {
    #[test]
    fn the_preamble_is_quiet_and_never_reads_stdin() {
        let c = super::command();
        let args: Vec<_> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]);
        assert_eq!(c.get_program(), "ffmpeg");
    }
}
