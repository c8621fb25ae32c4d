use super::*;

const NOUNS: [&str; 11] = [
    "project",
    "host",
    "service",
    "user",
    "config",
    "certs",
    "secrets",
    "history",
    "db",
    "doctor",
    "completions",
];

#[test]
fn completion_scripts_offer_every_noun_and_verb() {
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        let script = String::from_utf8(completion_script(shell)).unwrap();
        for word in NOUNS
            .iter()
            .chain(&["install", "reset-password", "restore-defaults"])
        {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let fish = String::from_utf8(completion_script(clap_complete::Shell::Fish)).unwrap();
    assert!(fish.contains("complete -c dtaas-services"), "{fish}");
}

#[test]
fn man_pages_render_for_the_root_and_every_visible_subcommand() {
    let pages = man_pages().unwrap();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "dtaas-services.1");
    for name in [
        "dtaas-services-service.1",
        "dtaas-services-service-start.1",
        "dtaas-services-user-reset-password.1",
        "dtaas-services-completions.1",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.contains("generate-project") || n.contains("-man"))
    );
    let root = String::from_utf8(pages[0].1.clone()).unwrap();
    assert!(root.starts_with(".ie \\n(.g .ds Aq"), "{root}");
    assert!(root.contains(".TH dtaas-services 1"), "{root}");
    assert!(root.contains("Manage DTaaS platform services"), "{root}");
    let start = &pages
        .iter()
        .find(|(n, _)| n == "dtaas-services-service-start.1")
        .unwrap()
        .1;
    let start = String::from_utf8(start.clone()).unwrap();
    assert!(start.contains("\\-\\-wait"), "{start}");
}
