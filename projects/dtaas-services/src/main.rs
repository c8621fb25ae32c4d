//! The `dtaas-services` binary: everything lives in the `cli` base.
fn main() -> std::process::ExitCode {
    cli::main()
}
