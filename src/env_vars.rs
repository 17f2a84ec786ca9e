//! Every environment variable reenroll reads, declared in one place (README lists them).

pub struct EnvVar {
    pub name: &'static str,
    pub description: &'static str,
}

pub const NO_COLOR: &str = "NO_COLOR";
pub const FAULT: &str = "REENROLL_FAULT";

/// reenroll's own variables; the server credentials' are in `server::creds::ENV_VARS`.
pub const OWN: &[EnvVar] = &[
    EnvVar {
        name: NO_COLOR,
        description: "Any value: no colour in terminal output (https://no-color.org).",
    },
    EnvVar {
        name: FAULT,
        description: "Test builds only (feature fault-injection): crash or fail at named points.",
    },
];

/// All of them, for `--help` and the README.
pub fn all() -> Vec<(&'static str, &'static str)> {
    OWN.iter()
        .map(|v| (v.name, v.description))
        .chain(
            crate::server::creds::ENV_VARS
                .iter()
                .map(|v| (v.name, v.description)),
        )
        .collect()
}
