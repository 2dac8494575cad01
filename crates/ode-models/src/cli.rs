//! The `main` shared by the training binaries: help, usage errors and run
//! errors end the process the same way in each of them.

use std::fmt::Display;
use std::process::ExitCode;

/// Parses the process arguments with `parse` and runs the result.
///
/// `parse` returns `Ok(None)` for `--help`, which prints `help`. A parse
/// error exits with status 2 (bad usage), a run error with status 1; both
/// print `<name>: error: <message>` on stderr.
pub fn main_with<A, E1: Display, E2: Display>(
    name: &str,
    help: &str,
    parse: impl FnOnce(&[String]) -> Result<Option<A>, E1>,
    run: impl FnOnce(A) -> Result<(), E2>,
) -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match parse(&argv) {
        Ok(None) => {
            print!("{help}");
            ExitCode::SUCCESS
        }
        Ok(Some(a)) => match run(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{name}: error: {e}");
            ExitCode::from(2)
        }
    }
}
