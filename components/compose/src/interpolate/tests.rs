//! Unit tests of interpolation: every form, defaults interpolated, and the errors.

use super::*;

fn vars() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("A".to_owned(), "1".to_owned()),
        ("E".to_owned(), String::new()),
        ("D".to_owned(), "dd".to_owned()),
    ])
}

#[test]
fn forms() {
    let v = vars();
    let i = |s: &str| interpolate(s, &v);
    assert_eq!(i("x${A}y$A").unwrap(), "x1y1");
    assert_eq!(i("${MISSING}").unwrap(), "");
    assert_eq!(i("${E:-def}").unwrap(), "def");
    assert_eq!(i("${E-def}").unwrap(), "");
    assert_eq!(i("${MISSING-def}").unwrap(), "def");
    assert_eq!(i("${MISSING:-${D}x}").unwrap(), "ddx");
    assert_eq!(i("$$A and $${A}").unwrap(), "$A and ${A}");
    assert_eq!(i("${A:?boom}").unwrap(), "1");
    assert_eq!(i("${E?boom}").unwrap(), "");
    assert_eq!(i("%(protocol)s://x").unwrap(), "%(protocol)s://x");
}

#[test]
fn errors() {
    let v = vars();
    assert_eq!(
        interpolate("${E:?set E please}", &v).unwrap_err(),
        "required variable E is missing a value: set E please"
    );
    assert_eq!(
        interpolate("${M?}", &v).unwrap_err(),
        "required variable M is missing a value"
    );
    assert!(interpolate("${A", &v).unwrap_err().contains("unclosed"));
    assert!(interpolate("a $ b", &v).unwrap_err().contains("$$"));
}
