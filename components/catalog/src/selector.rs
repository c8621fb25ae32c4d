use crate::Service;

/// A selector that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "no service named in the selector; name at least one service ({valid}), or omit --services"
    )]
    Empty { valid: String },
    #[error("unknown service{plural}: {names}; valid names: {valid}", plural = if names.contains(',') { "s" } else { "" })]
    Unknown { names: String, valid: String },
    #[error("{what} is supported for {supported} only; got: {names}")]
    Unsupported {
        what: &'static str,
        supported: String,
        names: String,
    },
    /// `service install` named a service without an install flow.
    #[error("Installation is supported for ThingsBoard and GitLab. Got: {names}")]
    NotInstallable { names: String },
    /// `service install -s` named nothing.
    #[error(
        "No service named in the selector. Name at least one service, or omit the flag entirely."
    )]
    NoneToInstall,
}

fn valid_names() -> String {
    Service::ALL
        .iter()
        .map(|s| s.compose_name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse a `-s/--services` value: comma-separated, case-insensitive, aliases resolved,
/// blank items dropped, duplicates removed (first occurrence keeps its place).
///
/// `None` (flag absent) selects every service. A value that names nothing, or any unknown
/// name, is an error that lists the valid names.
///
/// # Errors
/// [`CatalogError::Empty`] or [`CatalogError::Unknown`].
pub fn parse_selector(raw: Option<&str>) -> Result<Vec<Service>, CatalogError> {
    let Some(raw) = raw else {
        return Ok(Service::ALL.to_vec());
    };
    let mut picked = Vec::new();
    let mut unknown = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match Service::lookup(item) {
            Some(s) if !picked.contains(&s) => picked.push(s),
            Some(_) => {}
            None => unknown.push(item.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(CatalogError::Unknown {
            names: unknown.join(", "),
            valid: valid_names(),
        });
    }
    if picked.is_empty() {
        return Err(CatalogError::Empty {
            valid: valid_names(),
        });
    }
    Ok(picked)
}

/// Parse the `-s/--services` value of `service install`: a comma list of
/// `thingsboard|thingsboard-ce|gitlab`, case-insensitive, caller order, de-duplicated;
/// `None` (flag absent): ThingsBoard then GitLab.
///
/// # Errors
/// [`CatalogError::NotInstallable`] listing every other name, [`CatalogError::NoneToInstall`]
/// when the value names nothing.
pub fn parse_install_selector(raw: Option<&str>) -> Result<Vec<Service>, CatalogError> {
    let Some(raw) = raw else {
        return Ok(vec![Service::ThingsBoard, Service::GitLab]);
    };
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let s = match item.to_ascii_lowercase().as_str() {
            "thingsboard" | "thingsboard-ce" => Service::ThingsBoard,
            "gitlab" => Service::GitLab,
            _ => {
                bad.push(item.to_owned());
                continue;
            }
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if !bad.is_empty() {
        return Err(CatalogError::NotInstallable {
            names: bad.join(", "),
        });
    }
    if out.is_empty() {
        return Err(CatalogError::NoneToInstall);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_selects_all_in_order() {
        assert_eq!(parse_selector(None).unwrap(), Service::ALL.to_vec());
    }

    #[test]
    fn aliases_and_case_resolve_to_one_service() {
        let got =
            parse_selector(Some(" ThingsBoard,thingsboard-ce, PostgreSQL,pg ,gitlab,")).unwrap();
        assert_eq!(
            got,
            vec![Service::ThingsBoard, Service::Postgres, Service::GitLab]
        );
    }

    #[test]
    fn empty_selector_is_an_error_listing_names() {
        for raw in ["", "  ", ",", " , "] {
            let err = parse_selector(Some(raw)).unwrap_err();
            assert!(matches!(err, CatalogError::Empty { .. }), "{raw:?}");
        }
        insta::assert_snapshot!(parse_selector(Some(",")).unwrap_err(), @"no service named in the selector; name at least one service (rabbitmq, mongodb, grafana, influxdb, postgres, thingsboard-ce, gitlab), or omit --services");
    }

    #[test]
    fn unknown_names_are_all_listed() {
        let err = parse_selector(Some("mysql,rabbitmq,redis")).unwrap_err();
        insta::assert_snapshot!(err, @"unknown services: mysql, redis; valid names: rabbitmq, mongodb, grafana, influxdb, postgres, thingsboard-ce, gitlab");
    }

    #[test]
    fn container_name_of_thingsboard_differs_from_compose_name() {
        assert_eq!(Service::ThingsBoard.compose_name(), "thingsboard-ce");
        assert_eq!(Service::ThingsBoard.container_name(), "thingsboard");
        assert_eq!(
            Service::from_compose_name("thingsboard-ce"),
            Some(Service::ThingsBoard)
        );
        assert_eq!(Service::from_compose_name("thingsboard"), None);
    }

    #[test]
    fn serialises_as_the_compose_name() {
        let json = serde_json::to_string(&Service::ALL).unwrap();
        assert_eq!(
            json,
            r#"["rabbitmq","mongodb","grafana","influxdb","postgres","thingsboard-ce","gitlab"]"#
        );
    }

    #[test]
    fn install_selector_names_thingsboard_and_gitlab_only() {
        assert_eq!(
            parse_install_selector(None).unwrap(),
            vec![Service::ThingsBoard, Service::GitLab]
        );
        assert_eq!(
            parse_install_selector(Some(" GitLab,thingsboard-ce,ThingsBoard,")).unwrap(),
            vec![Service::GitLab, Service::ThingsBoard]
        );
        insta::assert_snapshot!(parse_install_selector(Some("grafana,gitlab,mysql")).unwrap_err(), @"Installation is supported for ThingsBoard and GitLab. Got: grafana, mysql");
        insta::assert_snapshot!(parse_install_selector(Some(" , ")).unwrap_err(), @"No service named in the selector. Name at least one service, or omit the flag entirely.");
    }
}
