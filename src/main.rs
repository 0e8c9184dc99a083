//! The `xds-hook` binary: parses the command line and hands off to the library.

mod cli;

/// mimalloc rather than glibc's malloc: a call builds and frees tens of thousands of small
/// index records, on which glibc spends about 30 % of the hook's instructions, and glibc
/// maps every buffer over 32 MiB afresh, so a large request's pages fault in again on every
/// call. The figures are in bench/README.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
