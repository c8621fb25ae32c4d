use docker::{DockerError, ExecOutput};
use services_common::BoxFuture;

use super::*;
use crate::container::Readiness;

/// A container whose runner ends as Ruby does on an uncaught exception.
struct Failing;

impl GitLabContainer for Failing {
    fn readiness(&self) -> BoxFuture<'_, Result<Readiness, DockerError>> {
        Box::pin(async { Ok(Readiness::Healthy) })
    }

    fn exec<'a>(&'a self, _: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, DockerError>> {
        Box::pin(async {
            Ok(ExecOutput {
                exit_code: 1,
                stdout: b"DTAAS_PASSWORD_EXPIRED=7=false\n".to_vec(),
                stderr: b"W, deprecation warning\n-:2:in '<main>': Couldn't find User with 'id'=9 (ActiveRecord::RecordNotFound)\n\tfrom /opt/gitlab/embedded/lib/ruby/railties/commands/runner/runner_command.rb:46:in 'eval'\n\tfrom bin/rails:4:in '<main>'\n".to_vec(),
            })
        })
    }
}

/// A run that fails fails every user of the batch, each named, with Ruby's error line; the
/// result lines printed before the failure are not believed.
#[tokio::test]
async fn a_failed_run_reports_rubys_error_line_and_no_result() {
    let users = [(7, "user7".to_owned()), (9, "user9".to_owned())];
    let failed = clear_password_expiry(&Failing, &users).await;
    let shown: Vec<String> = failed
        .iter()
        .map(|(name, e)| format!("{name}: {e}"))
        .collect();
    assert_eq!(
        shown,
        [
            "user7: GitLab: clearing the password expiry of user user7 (id 7) through gitlab-rails runner failed: exited with code 1 -:2:in '<main>': Couldn't find User with 'id'=9 (ActiveRecord::RecordNotFound)",
            "user9: GitLab: clearing the password expiry of user user9 (id 9) through gitlab-rails runner failed: exited with code 1 -:2:in '<main>': Couldn't find User with 'id'=9 (ActiveRecord::RecordNotFound)",
        ]
    );
}

/// No user: no runner (it would boot Rails for nothing).
#[tokio::test]
async fn no_changed_password_runs_no_runner() {
    assert!(clear_password_expiry(&Failing, &[]).await.is_empty());
}
