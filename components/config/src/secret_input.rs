//! How `config set` takes a value: a secret never from the command line (argv is readable
//! by every user of the host: `ps`, `/proc/<pid>/cmdline`, shell history), but from stdin
//! (`config set KEY -`) or a no-echo prompt; `--set KEY=VALUE` of a secret still works (one
//! run, no file written) with a warning.

use std::io::Read;

use secrecy::SecretString;

use crate::{ConfigError, KeySpec};

/// The value argument that means "read it from stdin".
pub const STDIN_VALUE: &str = "-";

/// Where `config set KEY [VALUE]` takes its value from.
#[derive(Debug, PartialEq, Eq)]
pub enum ValueSource<'a> {
    /// The command line (never for a secret).
    Given(&'a str),
    /// `-`: read stdin to its end.
    Stdin,
    /// No value: ask on the terminal without echo.
    Prompt,
}

/// Decide where `config set` of `spec` takes its value from.
///
/// # Errors
/// [`ConfigError::SecretOnCommandLine`] for a secret with its value on the command line.
pub fn value_source<'a>(
    spec: &KeySpec,
    given: Option<&'a str>,
) -> Result<ValueSource<'a>, ConfigError> {
    match given {
        None => Ok(ValueSource::Prompt),
        Some(STDIN_VALUE) => Ok(ValueSource::Stdin),
        Some(_) if spec.is_secret() => Err(ConfigError::SecretOnCommandLine {
            key: spec.name.to_owned(),
        }),
        Some(v) => Ok(ValueSource::Given(v)),
    }
}

/// The value `input` holds (stdin or a prompt's answer): one line, its line ending dropped.
///
/// # Errors
/// [`ConfigError::SecretInput`] when it cannot be read, is not UTF-8, is empty or has more
/// than one line.
pub fn read_value(spec: &KeySpec, mut input: impl Read) -> Result<SecretString, ConfigError> {
    let err = |message: &str| ConfigError::SecretInput {
        key: spec.name.to_owned(),
        message: message.to_owned(),
    };
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| err(&format!("cannot read the value: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| err("the value is not valid UTF-8"))?;
    let value = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(err("no value was given"));
    }
    if value.contains(['\n', '\r']) {
        return Err(err("the value has more than one line"));
    }
    Ok(SecretString::from(value.to_owned()))
}

/// The warning `--set` of secret `key` gives.
pub(crate) fn set_flag_warning(key: &str) -> String {
    format!(
        "--set {key}: a secret on the command line can be read by other users of this host \
         (ps, shell history); prefer `dtaas-services config set {key} -` (stdin) or the \
         environment variable {}{key}",
        crate::ENV_PREFIX
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn spec(name: &str) -> &'static KeySpec {
        crate::key_spec(name).unwrap()
    }

    #[test]
    fn a_secret_is_never_taken_from_the_command_line() {
        let pw = spec("POSTGRES_PASSWORD");
        assert!(matches!(
            value_source(pw, Some("hunter2")),
            Err(ConfigError::SecretOnCommandLine { .. })
        ));
        assert_eq!(value_source(pw, Some("-")).unwrap(), ValueSource::Stdin);
        assert_eq!(value_source(pw, None).unwrap(), ValueSource::Prompt);
        let host = spec("HOSTNAME");
        assert_eq!(
            value_source(host, Some("h.example")).unwrap(),
            ValueSource::Given("h.example")
        );
    }

    #[test]
    fn stdin_gives_one_line() {
        let pw = spec("POSTGRES_PASSWORD");
        for (input, want) in [
            ("s3cret-Pw\n", "s3cret-Pw"),
            ("s3cret-Pw\r\n", "s3cret-Pw"),
            ("s3cret-Pw", "s3cret-Pw"),
            (" spaced pw \n", " spaced pw "),
        ] {
            let got = read_value(pw, input.as_bytes()).unwrap();
            assert_eq!(got.expose_secret(), want, "{input:?}");
        }
        for input in ["", "\n", "a\nb\n", "a\rb"] {
            let e = read_value(pw, input.as_bytes()).unwrap_err();
            assert!(
                !e.to_string().contains('a') || !e.to_string().contains("ab"),
                "{e}"
            );
        }
        assert!(read_value(pw, &[0xff_u8, 0xfe][..]).is_err());
    }
}
