use clap::CommandFactory as _;

use super::Cli;

/// clap's own consistency checks of the whole grammar (conflicting short flags, unknown
/// `conflicts_with`/`requires` ids, positional order, ...), which otherwise fire only when
/// the faulty subcommand is parsed.
#[test]
fn the_grammar_passes_clap_debug_asserts() {
    Cli::command().debug_assert();
}
