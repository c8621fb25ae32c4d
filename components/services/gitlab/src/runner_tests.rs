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
                stdout: b"DTAAS_PASSWORD_EXPIRED=false\n".to_vec(),
                stderr: b"W, deprecation warning\n-:2:in '<main>': Couldn't find User with 'id'=9 (ActiveRecord::RecordNotFound)\n\tfrom /opt/gitlab/embedded/lib/ruby/railties/commands/runner/runner_command.rb:46:in 'eval'\n\tfrom bin/rails:4:in '<main>'\n".to_vec(),
            })
        })
    }
}

#[tokio::test]
async fn a_failed_run_reports_rubys_error_line_and_no_result() {
    let err = clear_password_expiry(&Failing, 9).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GitLab: clearing the password expiry of user 9 through gitlab-rails runner failed: exited with code 1 -:2:in '<main>': Couldn't find User with 'id'=9 (ActiveRecord::RecordNotFound)"
    );
}
