//! The one rule that keeps credentials.csv from taking over what is not its own: a row is
//! refused, before anything changes anywhere, when what it would create or be given in a
//! service ([`Provisioner::claims`]) is
//!
//! - an admin account or a platform object ([`Provisioner::reserved_names`]), or
//! - an object that exists ([`Provisioner::existing_objects`]) and is not the row user's
//!   own: the state database has no account record of that user in that service (the record
//!   is written before the tool first creates anything for the user, so a re-run of the same
//!   CSV finds its own objects), or
//! - the same object as an earlier row's,
//!
//! each comparison with the service's own [`services_common::NameRule`] for that kind of
//! name (case-insensitive where the service is).

use std::collections::BTreeSet;

use credentials::{Credential, Credentials};
use services_common::{Claim, Existing, ProvisionError, Provisioner, Reserved};
use store::Store;

/// What the rule needs to know of one service.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub reserved: Vec<Reserved>,
    pub existing: Vec<Existing>,
    /// The usernames the state database records for the service.
    pub owners: BTreeSet<String>,
}

/// Gather the [`Facts`] of `p` (one listing of the service, one read of the store).
pub(crate) async fn facts(p: &dyn Provisioner, store: &Store) -> Result<Facts, ProvisionError> {
    let existing = p.existing_objects().await?;
    let owners = store
        .accounts(Some(p.service().compose_name()))
        .await
        .map_err(|e| ProvisionError::Failed {
            service: p.service().display_name().to_owned(),
            detail: format!("cannot read the account records of the state database: {e}"),
        })?
        .into_iter()
        .map(|a| a.username)
        .collect();
    Ok(Facts {
        reserved: p.reserved_names(),
        existing,
        owners,
    })
}

fn at(creds: &Credentials, row: &Credential) -> String {
    format!("{} line {}", creds.file(), row.line)
}

/// Why `name` may not be named at all in `p` (an admin account or a platform object).
pub(crate) fn reserved(p: &dyn Provisioner, name: &str, email: Option<&str>) -> Option<String> {
    let reserved = p.reserved_names();
    p.claims(name, email).iter().find_map(|c| {
        reserved
            .iter()
            .find(|r| r.kind == c.kind && c.rule.same(&r.name, &c.name))
            .map(|r| {
                format!(
                    "{} {:?} is {}; it is never managed from credentials.csv (refused, nothing changed)",
                    c.kind, c.name, r.what
                )
            })
    })
}

/// Why row `row` is refused in `p`, if it is; `earlier` holds the claims of the rows
/// before it.
fn refusal(
    p: &dyn Provisioner,
    facts: &Facts,
    creds: &Credentials,
    row: &Credential,
    earlier: &[(&Credential, Vec<Claim>)],
) -> Option<String> {
    let service = p.service().display_name();
    let user = &row.username;
    let claims = p.claims(user, row.email.as_deref());
    for c in &claims {
        if let Some(r) = facts
            .reserved
            .iter()
            .find(|r| r.kind == c.kind && c.rule.same(&r.name, &c.name))
        {
            return Some(format!(
                "{}: {user}: {} {:?} is {}; it is never managed from credentials.csv (refused, nothing changed)",
                at(creds, row),
                c.kind,
                r.name,
                r.what
            ));
        }
        if !facts.owners.contains(user)
            && let Some(e) = facts
                .existing
                .iter()
                .find(|e| e.kind == c.kind && c.rule.same(&e.name, &c.name))
        {
            return Some(format!(
                "{}: {user}: {service} {} {:?} already exists and was not created by this tool for {user:?}; it is not taken over (refused, nothing changed)",
                at(creds, row),
                c.kind,
                e.name
            ));
        }
        if let Some((other, _)) = earlier.iter().find(|(o, theirs)| {
            o.username != *user
                && theirs
                    .iter()
                    .any(|t| t.kind == c.kind && c.rule.same(&t.name, &c.name))
        }) {
            return Some(format!(
                "{}: {user}: {service} {} {:?} is the same as that of {:?} ({}) (refused, nothing changed)",
                at(creds, row),
                c.kind,
                c.name,
                other.username,
                at(creds, other)
            ));
        }
    }
    None
}

/// The refused rows of `creds` in `p`: (row index, why).
pub(crate) fn refusals(
    p: &dyn Provisioner,
    facts: &Facts,
    creds: &Credentials,
) -> Vec<(usize, String)> {
    let mut earlier: Vec<(&Credential, Vec<Claim>)> = Vec::new();
    let mut out = Vec::new();
    for (i, row) in creds.rows().iter().enumerate() {
        if let Some(why) = refusal(p, facts, creds, row, &earlier) {
            out.push((i, why));
        }
        earlier.push((row, p.claims(&row.username, row.email.as_deref())));
    }
    out
}
