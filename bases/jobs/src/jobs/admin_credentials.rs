//! `admin-credentials`: the admin secrets kept in the password store still log in —
//! ThingsBoard's sysadmin and tenant admin passwords (`POST /api/auth/login`) and GitLab's
//! root token (`GET /user`). The other services' admin passwords live in services.env, not
//! in the store, and are not checked here.

use password_store::{
    GITLAB_ROOT_PAT, PasswordStore, TB_SYSADMIN_CURRENT_PASSWORD, TB_TENANT_ADMIN_CURRENT_PASSWORD,
};

use crate::env::Env;
use crate::job::JobOutput;

/// One pass of admin-credentials.
///
/// # Errors
/// The password store cannot be opened.
pub(crate) async fn run(env: &Env) -> anyhow::Result<JobOutput> {
    let secrets = PasswordStore::open(env.store.clone(), &env.key_source()).await?;
    let mut out = JobOutput::default();
    let mut checked = 0usize;
    thingsboard(env, &secrets, &mut out, &mut checked).await?;
    gitlab(env, &secrets, &mut out, &mut checked).await?;
    out.summary = if checked == 0 {
        "no admin credential stored (ThingsBoard and GitLab not installed)".to_owned()
    } else {
        format!(
            "{checked} checked, {} refused or unreachable",
            out.failures.len()
        )
    };
    Ok(out)
}

async fn thingsboard(
    env: &Env,
    secrets: &PasswordStore,
    out: &mut JobOutput,
    checked: &mut usize,
) -> anyhow::Result<()> {
    let sys = secrets.get(TB_SYSADMIN_CURRENT_PASSWORD).await?;
    let tenant = secrets.get(TB_TENANT_ADMIN_CURRENT_PASSWORD).await?;
    if sys.is_none() && tenant.is_none() {
        return Ok(());
    }
    let tb = match services_thingsboard::ThingsBoard::from_settings(&env.settings, secrets.clone())
    {
        Ok(tb) => tb,
        Err(e) => {
            out.failures.push(format!("thingsboard-ce: {e}"));
            return Ok(());
        }
    };
    let accounts = [
        ("sysadmin", tb.config().sysadmin_email.clone(), sys),
        (
            "tenant admin",
            tb.config().tenant_admin_email.clone(),
            tenant,
        ),
    ];
    for (role, email, password) in accounts {
        let Some(password) = password else { continue };
        *checked += 1;
        match tb.client().login(&email, &password).await {
            Ok(Some(_)) => {}
            Ok(None) => out.failures.push(format!(
                "thingsboard-ce: the stored {role} password of {email} is refused; run `dtaas-services user reset-password -s thingsboard`"
            )),
            Err(e) => out
                .failures
                .push(format!("thingsboard-ce: cannot check the {role} login: {e}")),
        }
    }
    Ok(())
}

async fn gitlab(
    env: &Env,
    secrets: &PasswordStore,
    out: &mut JobOutput,
    checked: &mut usize,
) -> anyhow::Result<()> {
    let Some(pat) = secrets.get(GITLAB_ROOT_PAT).await? else {
        return Ok(());
    };
    *checked += 1;
    let gl = match services_gitlab::GitLab::from_settings(&env.settings, secrets.clone()) {
        Ok(gl) => gl,
        Err(e) => {
            out.failures.push(format!("gitlab: {e}"));
            return Ok(());
        }
    };
    match gl.client().whoami(&services_gitlab::Auth::Pat(pat)).await {
        Ok(Some(u)) if u.is_admin => {}
        Ok(Some(_)) => out
            .failures
            .push("gitlab: the stored root token is no longer an administrator's".to_owned()),
        Ok(None) => out.failures.push(
            "gitlab: the stored root token is refused (expired or revoked); run `dtaas-services service install -s gitlab` to make a new one"
                .to_owned(),
        ),
        Err(e) => out
            .failures
            .push(format!("gitlab: cannot check the root token: {e}")),
    }
    Ok(())
}
