use super::*;

#[test]
fn psql_errors_other_than_already_exists_fail_the_restore() {
    let ok = ExecOutput {
        exit_code: 0,
        stdout: Vec::new(),
        stderr: b"psql:<stdin>:14: ERROR:  role \"dtaas\" already exists\n".to_vec(),
    };
    check_psql_restore(Service::Postgres, &ok).unwrap();
    let bad = ExecOutput {
        exit_code: 0,
        stdout: Vec::new(),
        stderr: b"psql:<stdin>:14: ERROR:  role \"dtaas\" already exists\npsql:<stdin>:20: ERROR:  syntax error at or near \"x\"\n".to_vec(),
    };
    let err = check_psql_restore(Service::Postgres, &bad).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r#"postgres: psql failed (exit 0): psql:<stdin>:20: ERROR:  syntax error at or near "x""#);
}
