//! The `dtaas-jobs` binary: everything lives in the `jobs` base.
fn main() -> std::process::ExitCode {
    jobs::main()
}
