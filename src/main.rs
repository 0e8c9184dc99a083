//! The `xds-hook` binary: parses the command line and hands off to the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
