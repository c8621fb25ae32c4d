//! `config show|get|set|unset|restore-defaults|validate`.

use anyhow::Context as _;
use secrecy::ExposeSecret as _;

use crate::args::{GetArgs, KeyArg, RestoreArgs, SetArgs, ShowArgs};
use crate::context::Ctx;
use crate::exit::Exit;

#[derive(serde::Serialize)]
struct Row<'a> {
    key: &'a str,
    value: String,
    secret: bool,
    source: &'a config::Source,
}

/// `config show [--show-secrets]`.
pub(crate) fn show(ctx: &Ctx, args: &ShowArgs) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let entries = settings.entries(args.show_secrets);
    if ctx.out.is_json() {
        let rows: Vec<Row<'_>> = entries
            .iter()
            .map(|(spec, value, source)| Row {
                key: spec.name,
                value: value.clone(),
                secret: spec.is_secret(),
                source,
            })
            .collect();
        ctx.out.json(&rows)?;
    } else {
        let rows = entries
            .into_iter()
            .map(|(spec, value, source)| vec![spec.name.to_owned(), value, source.to_string()])
            .collect();
        ctx.out.table(&["Key", "Value", "Source"], rows);
    }
    Ok(Exit::Success)
}

fn known_key(key: &str) -> anyhow::Result<&'static config::KeySpec> {
    config::key_spec(key).ok_or_else(|| {
        config::ConfigError::UnknownKey {
            key: key.to_owned(),
            suggestion: config::suggest(key).map(str::to_owned),
        }
        .into()
    })
}

/// `config get KEY [--show-secrets]`.
pub(crate) fn get(ctx: &Ctx, args: &GetArgs) -> anyhow::Result<Exit> {
    let spec = known_key(&args.key)?;
    let settings = ctx.settings()?;
    let value = if spec.is_secret() {
        if !args.show_secrets {
            return Err(crate::exit::CliError::Usage(format!(
                "{} is a secret; pass --show-secrets to print it",
                spec.name
            ))
            .into());
        }
        settings
            .secret(spec.name)
            .map(|s| s.expose_secret().to_owned())
    } else {
        settings.get(spec.name).map(str::to_owned)
    };
    match value {
        Some(v) => {
            ctx.out.value(v);
            Ok(Exit::Success)
        }
        None => {
            ctx.out.error(format!("{} is not set", spec.name));
            Ok(Exit::Failed)
        }
    }
}

fn edit(
    ctx: &Ctx,
    change: impl FnOnce(&mut config::EnvFile) -> anyhow::Result<String>,
) -> anyhow::Result<Exit> {
    edit_with_backup(ctx, false, change)
}

/// [`edit`], keeping the current file as a new timestamped backup first when `backup`.
fn edit_with_backup(
    ctx: &Ctx,
    backup: bool,
    change: impl FnOnce(&mut config::EnvFile) -> anyhow::Result<String>,
) -> anyhow::Result<Exit> {
    let dir = ctx.project_dir()?;
    let path = config::env_file_path(&dir);
    let mut doc = config::EnvFile::read(&path)?;
    let message = change(&mut doc)?;
    // Validate the edited document as a whole before anything is written.
    let env: Vec<(String, String)> = Vec::new();
    config::resolve(&dir, &doc, &env, &[])?;
    let kept = if backup { config::backup(&path)? } else { None };
    doc.write_atomic()?;
    ctx.out.success(message);
    if let Some(kept) = kept {
        ctx.out
            .line(format!("  the previous file is kept as {}", kept.display()));
    }
    Ok(Exit::Success)
}

/// `config set KEY [VALUE | -]`: the value from the command line, stdin or a prompt, as
/// [`config::value_source`] decides (never a secret from the command line).
pub(crate) fn set(ctx: &Ctx, args: &SetArgs) -> anyhow::Result<Exit> {
    let spec = known_key(&args.key)?;
    let value = match config::value_source(spec, args.value.as_deref())? {
        config::ValueSource::Given(v) => secrecy::SecretString::from(v.to_owned()),
        config::ValueSource::Stdin => config::read_value(spec, std::io::stdin().lock())?,
        config::ValueSource::Prompt => ctx.ask_value(spec)?,
    };
    config::validate(spec, value.expose_secret()).map_err(|message| {
        config::ConfigError::Invalid {
            origin: "config set".into(),
            key: spec.name.to_owned(),
            message,
        }
    })?;
    edit(ctx, |doc| {
        doc.set(spec.name, value.expose_secret());
        Ok(format!("{} set in {}", spec.name, doc.path().display()))
    })
}

/// `config unset KEY`.
pub(crate) fn unset(ctx: &Ctx, args: &KeyArg) -> anyhow::Result<Exit> {
    let spec = known_key(&args.key)?;
    edit(ctx, |doc| {
        if doc.unset(spec.name) {
            Ok(format!("{} removed; its default applies", spec.name))
        } else {
            Ok(format!("{} was not set", spec.name))
        }
    })
}

/// What a new password means for services that already run.
const RUNNING_SERVICES: &str = "Services that already run keep their current passwords: \
change them there too, or put the old values back from the backup";

/// `config restore-defaults KEY | --all`: template values, but fresh random secrets (never the
/// public template passwords); the old file is kept as a new timestamped backup.
pub(crate) fn restore_defaults(ctx: &Ctx, args: &RestoreArgs) -> anyhow::Result<Exit> {
    let template = project::template("config/services.env.template")
        .context("the services.env template is missing from this build")?;
    if args.all {
        let dir = ctx.project_dir()?;
        let path = config::env_file_path(&dir);
        ctx.confirm(&format!(
            "This replaces {} with the template (the current file is kept as a backup \
             next to it), with new random passwords. {RUNNING_SERVICES}.",
            path.display()
        ))?;
        let (fresh, generated) = config::from_template(&path, template)?;
        let kept = config::backup(&path)?;
        fresh.write_atomic()?;
        ctx.out
            .success(format!("{} restored from the template", path.display()));
        if !generated.is_empty() {
            ctx.out.line(format!(
                "  new random passwords for {} secrets (`dtaas-services config show \
                 --show-secrets` prints them)",
                generated.len()
            ));
        }
        if let Some(kept) = kept {
            ctx.out
                .line(format!("  the previous file is kept as {}", kept.display()));
        }
        return Ok(Exit::Success);
    }
    let key = args.key.as_deref().unwrap_or_default();
    let spec = known_key(key)?;
    let template = config::EnvFile::parse(std::path::Path::new("template"), template)?;
    edit_with_backup(ctx, spec.is_secret(), |doc| {
        let restored = config::restore_key(doc, spec, &template);
        // A secret is a password services use: ask, saying what happens to it.
        if spec.is_secret() {
            ctx.confirm(&match restored {
                config::Restored::NewSecret => format!(
                    "{} gets a new random value (never the public template one). \
                     {RUNNING_SERVICES} (the current file is kept as a backup next to it).",
                    spec.name
                ),
                _ => format!(
                    "{} is reset to the template (the current file is kept as a backup next \
                     to it).",
                    spec.name
                ),
            })?;
        }
        Ok(match restored {
            config::Restored::Template => {
                format!("{} restored to its template default", spec.name)
            }
            config::Restored::NewSecret => format!(
                "{} set to a new random value (`dtaas-services config get {} --show-secrets` \
                 prints it)",
                spec.name, spec.name
            ),
            config::Restored::Removed => {
                format!("{} removed; its built-in default applies", spec.name)
            }
        })
    })
}

/// `config validate`.
pub(crate) fn validate(ctx: &Ctx) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let weak = settings.default_secrets();
    if !weak.is_empty() {
        ctx.out.warn(format!(
            "these secrets still have the public template value: {}",
            weak.join(", ")
        ));
    }
    ctx.out.success(format!(
        "{} is valid",
        config::env_file_path(settings.project_dir()).display()
    ));
    Ok(Exit::Success)
}
