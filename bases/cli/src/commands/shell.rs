//! `completions` and the hidden `man`: the grammar rendered for shells and for man(1).

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::context::Ctx;
use crate::exit::Exit;

/// The binary's name, as shells and man look it up.
const BIN: &str = "dtaas-services";

/// `completions SHELL`: the completion script on stdout (clap_complete also completes the
/// hidden legacy aliases, which still work).
pub(crate) fn completions(ctx: &Ctx, args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let script = completion_script(args.shell);
    ctx.out
        .raw(false, &script)
        .context("writing the completion script to stdout")?;
    Ok(Exit::Success)
}

/// `man --dir DIR`: `dtaas-services.1` and one page per visible subcommand
/// (`dtaas-services-service-start.1`, ...), mode 0644.
pub(crate) fn man(ctx: &Ctx, args: &ManArgs) -> anyhow::Result<Exit> {
    let pages = man_pages()?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    for (name, roff) in &pages {
        let path = args.dir.join(name);
        atomic_file::write(&path, roff, 0o644, atomic_file::Owner::Process)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    ctx.out.success(format!(
        "{} man pages written to {}",
        pages.len(),
        args.dir.display()
    ));
    Ok(Exit::Success)
}

pub(crate) fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    script
}

/// Every man page as (file name, roff): the root command first, then each visible
/// subcommand depth-first.
pub(crate) fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut root = Cli::command().name(BIN).disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    collect(&root, &mut pages)?;
    Ok(pages)
}

fn collect(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    pages.push((man.get_filename(), roff));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
