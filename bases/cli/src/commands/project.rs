//! `project generate`.

use crate::args::GenerateArgs;
use crate::context::Ctx;
use crate::exit::Exit;

/// `project generate [--path DIR] [--force]`.
pub(crate) fn generate(ctx: &Ctx, args: &GenerateArgs) -> anyhow::Result<Exit> {
    let dir = match &args.path {
        Some(p) => std::path::absolute(p)?,
        None => std::env::current_dir()?,
    };
    let out = ctx.out;
    out.line(format!(
        "Generating project structure in {}...",
        dir.display()
    ));
    let report = project::generate(&dir, args.force)?;
    // A services.env made now gets random secrets instead of the template's public ones.
    let fresh_env = report
        .events
        .iter()
        .any(|e| matches!(e, project::Event::FromTemplate(p) if p == "config/services.env"));
    let mut generated = Vec::new();
    if fresh_env {
        let mut doc = config::EnvFile::read(&config::env_file_path(&report.dir))?;
        generated = config::replace_default_secrets(&mut doc);
        doc.write_atomic()?;
    }
    if out.is_json() {
        out.json(&report)?;
        return Ok(Exit::Success);
    }
    for event in &report.events {
        match event {
            project::Event::Created(p) => out.line(format!("  Created {p}")),
            project::Event::Skipped(p) => out.line(format!("  Skipping {p} (already exists)")),
            project::Event::Overwrote(p) => out.line(format!("  Overwrote {p}")),
            project::Event::Kept(p) => out.line(format!("  Kept {p} (protected)")),
            project::Event::FromTemplate(p) => out.line(format!("  Created {p} from template")),
        }
    }
    if !generated.is_empty() {
        out.line(format!(
            "  Generated random passwords for {} secrets in config/services.env \
(`dtaas-services config show --show-secrets` prints them)",
            generated.len()
        ));
    }
    if report.overwrote() {
        out.line(
            "\nOverwritten files were refreshed from the package. Review them before starting services, \
and re-run 'dtaas-services host setup' if certificate or service file permissions were affected.",
        );
    }
    if report.kept() {
        out.line(
            "\nProtected files were left untouched. To adopt the packaged version of one, copy it aside, \
delete it and run the command again.",
        );
    }
    out.line(format!(
        "\nProject structure generated successfully in {}!",
        report.dir.display()
    ));
    Ok(Exit::Success)
}
