use std::fmt;
use std::sync::Arc;

use catalog::Service;
use docker::{ContainerState, Engine, ExecOutput, ExecSpec};
use secrecy::{ExposeSecret as _, SecretString};
use services_common::{
    BoxFuture, Claim, Existing, NameRule, Outcome, PasswordState, ProvisionError, Provisioner,
    Removal, Reserved, UserSpec,
};

use crate::script::{
    ENV_ADMIN_PASSWORD, ENV_ADMIN_USER, ENV_USER_PASSWORD, MONGOSH_HOME, RESULT, Script, argv,
};

const NAME: &str = "MongoDB";

/// MongoDB's own databases: never provisioned nor dropped.
pub const SYSTEM_DATABASES: [&str; 3] = ["admin", "local", "config"];

/// Running a command in the project's MongoDB container.
pub trait MongoExec: Send + Sync + fmt::Debug {
    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, ProvisionError>>;
}

/// [`MongoExec`] through a docker [`Engine`]: the running container labelled
/// `com.docker.compose.project=<project>` and `com.docker.compose.service=mongodb`.
pub struct EngineExec<E> {
    engine: Arc<E>,
    project: String,
}

impl<E> fmt::Debug for EngineExec<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineExec")
            .field("project", &self.project)
            .finish()
    }
}

impl<E: Engine> EngineExec<E> {
    #[must_use]
    pub fn new(engine: Arc<E>, project: &str) -> Self {
        Self {
            engine,
            project: project.to_owned(),
        }
    }

    async fn run(&self, spec: &ExecSpec) -> Result<ExecOutput, ProvisionError> {
        let docker_err = |e: docker::DockerError| ProvisionError::Unreachable {
            service: NAME.to_owned(),
            target: self.engine.host(),
            detail: e.to_string(),
        };
        let containers = compose::service_containers(
            self.engine.as_ref(),
            &self.project,
            Service::MongoDb.compose_name(),
        )
        .await
        .map_err(docker_err)?;
        let Some(c) = containers
            .iter()
            .find(|c| c.state == ContainerState::Running)
        else {
            return Err(ProvisionError::Unreachable {
                service: NAME.to_owned(),
                target: format!("project {}", self.project),
                detail: "the MongoDB container is not running; start it with `dtaas-services service start -s mongodb`".to_owned(),
            });
        };
        self.engine.exec(&c.id, spec).await.map_err(docker_err)
    }
}

impl<E: Engine> MongoExec for EngineExec<E> {
    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, ProvisionError>> {
        Box::pin(self.run(spec))
    }
}

/// The admin login and TLS choice.
#[derive(Debug, Clone)]
pub struct MongoOptions {
    pub admin_user: String,
    pub admin_password: SecretString,
    pub ssl_verify: bool,
}

impl MongoOptions {
    /// From the project's settings.
    ///
    /// # Errors
    /// [`ProvisionError::Config`] when `MONGODB_ADMIN_PASSWORD` is not set.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, ProvisionError> {
        Ok(Self {
            admin_user: settings.text("MONGODB_ADMIN_USERNAME").to_owned(),
            admin_password: settings.secret("MONGODB_ADMIN_PASSWORD").ok_or_else(|| {
                ProvisionError::Config {
                    service: NAME.to_owned(),
                    detail: "MONGODB_ADMIN_PASSWORD is not set".to_owned(),
                }
            })?,
            ssl_verify: settings.ssl_verify(),
        })
    }
}

/// Provisions MongoDB users with mongosh in the container.
#[derive(Debug)]
pub struct MongoProvisioner<X> {
    exec: X,
    opts: MongoOptions,
}

fn failed(detail: String) -> ProvisionError {
    ProvisionError::Failed {
        service: NAME.to_owned(),
        detail,
    }
}

impl<X: MongoExec> MongoProvisioner<X> {
    #[must_use]
    pub fn new(exec: X, opts: MongoOptions) -> Self {
        Self { exec, opts }
    }

    /// The exec backend (tests inspect what was run).
    #[must_use]
    pub fn exec(&self) -> &X {
        &self.exec
    }

    /// Run `script` with `mongosh --eval` (exit status 1 on any thrown error); the text after
    /// the result marker. HOME is set outside the data directory for mongosh's logs.
    async fn run(
        &self,
        script: &Script,
        user_password: Option<&SecretString>,
    ) -> Result<String, ProvisionError> {
        let mut env = vec![
            format!("HOME={MONGOSH_HOME}"),
            format!("{ENV_ADMIN_USER}={}", self.opts.admin_user),
            format!(
                "{ENV_ADMIN_PASSWORD}={}",
                self.opts.admin_password.expose_secret()
            ),
        ];
        if let Some(pw) = user_password {
            env.push(format!("{ENV_USER_PASSWORD}={}", pw.expose_secret()));
        }
        let spec = ExecSpec {
            cmd: argv(self.opts.ssl_verify, script),
            env,
            ..ExecSpec::default()
        };
        let out = self.exec.exec(&spec).await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.exit_code == 0
            && let Some(result) = stdout.lines().find_map(|l| l.trim().strip_prefix(RESULT))
        {
            return Ok(result.trim().to_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.exit_code == 0 {
            return Err(failed(
                "mongosh exited with 0 but printed no result line".to_owned(),
            ));
        }
        let message = stdout
            .lines()
            .chain(stderr.lines())
            .map(str::trim)
            .find(|l| l.contains("Error") || l.contains("error"))
            .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("mongosh failed without a message")
            .to_owned();
        if message.contains("Authentication failed") {
            Err(ProvisionError::Unauthorized {
                service: NAME.to_owned(),
                detail: message,
            })
        } else if message.contains("ECONNREFUSED") || message.contains("MongoNetworkError") {
            Err(ProvisionError::Unreachable {
                service: NAME.to_owned(),
                target: "the MongoDB container".to_owned(),
                detail: message,
            })
        } else {
            Err(failed(format!(
                "mongosh exited with {}: {message}",
                out.exit_code
            )))
        }
    }

    /// Refuse the admin login and MongoDB's own databases (`admin`, `local`, `config`).
    fn refuse_reserved(&self, name: &str) -> Result<(), ProvisionError> {
        if name == self.opts.admin_user {
            return Err(failed(format!(
                "{name:?} is the MongoDB admin (MONGODB_ADMIN_USERNAME); it is not managed from credentials.csv"
            )));
        }
        if SYSTEM_DATABASES.contains(&name) {
            return Err(failed(format!(
                "{name:?} is a MongoDB system database; it is never managed as a user (refused)"
            )));
        }
        Ok(())
    }

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        self.refuse_reserved(&user.name)?;
        let script = Script::Ensure {
            user: user.name.clone(),
            update_password: user.password_state != PasswordState::Same,
        };
        match self.run(&script, Some(&user.password)).await?.as_str() {
            "created" => Ok(Outcome::Created),
            "updated" => Ok(Outcome::Updated),
            "unchanged" => Ok(Outcome::Unchanged),
            other => Err(failed(format!("unexpected result {other:?}"))),
        }
    }

    async fn list(&self) -> Result<Vec<String>, ProvisionError> {
        let out = self.run(&Script::List, None).await?;
        serde_json::from_str(&out).map_err(|e| failed(format!("unexpected user list: {e}")))
    }

    /// Every database and every user defined in the database of its name.
    async fn existing(&self) -> Result<Vec<Existing>, ProvisionError> {
        let out = self.run(&Script::Objects, None).await?;
        let v: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| failed(format!("unexpected object list: {e}")))?;
        let names = |key: &str| -> Result<Vec<String>, ProvisionError> {
            serde_json::from_value(v.get(key).cloned().unwrap_or_default())
                .map_err(|e| failed(format!("unexpected object list ({key}): {e}")))
        };
        Ok(names("dbs")?
            .into_iter()
            .map(|n| Existing::new("database", n))
            .chain(
                names("users")?
                    .into_iter()
                    .map(|n| Existing::new("user", n)),
            )
            .collect())
    }

    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        self.refuse_reserved(name)?;
        let script = Script::Remove {
            user: name.to_owned(),
            keep_data,
        };
        match self.run(&script, None).await?.as_str() {
            "removed" => Ok(Removal::Removed),
            "absent" => Ok(Removal::Absent),
            "not-own-database" => Err(failed(format!(
                "database {name:?} has no user {name:?} of its own: not dropped (drop it by hand if it is no longer needed, or use --keep-data)"
            ))),
            other => Err(failed(format!("unexpected result {other:?}"))),
        }
    }
}

impl<X: MongoExec> Provisioner for MongoProvisioner<X> {
    fn service(&self) -> Service {
        Service::MongoDb
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move { self.run(&Script::Probe, None).await.map(drop) })
    }

    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        Box::pin(self.list())
    }

    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        Box::pin(self.ensure(user))
    }

    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        Box::pin(self.remove(name, keep_data))
    }

    fn reserved_names(&self) -> Vec<Reserved> {
        let mut out = vec![Reserved::new(
            "user",
            &self.opts.admin_user,
            "the MongoDB admin (MONGODB_ADMIN_USERNAME)",
        )];
        for db in SYSTEM_DATABASES {
            out.push(Reserved::new("database", db, "a MongoDB system database"));
        }
        out
    }

    /// A user defined in a database of its name, with `readWrite` on it. User names compare
    /// byte for byte; database names too, but mongod refuses a database whose name differs
    /// from an existing one only by case ("db already exists with different case":
    /// mongodb/mongo r8.2.x src/mongo/db/catalog/database_holder_impl.cpp), so they are
    /// compared ignoring case.
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        vec![
            Claim::new("user", name, NameRule::Exact),
            Claim::new("database", name, NameRule::IgnoreCase),
        ]
    }

    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(self.existing())
    }
}
