//! The playbooks compiled into the binary.

pub const EMBEDDED: &[(&str, &str)] = &[
    ("cause6", include_str!("../../playbooks/cause6.toml")),
    (
        "reregister",
        include_str!("../../playbooks/reregister.toml"),
    ),
];

pub const DEFAULT: &str = "cause6";

pub fn get(name: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
