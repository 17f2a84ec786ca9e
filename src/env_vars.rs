//! Every environment variable reenroll reads, declared in one place (README lists them).

/// An environment variable reenroll reads, with what it is for.
#[derive(Clone, Copy, Debug)]
pub struct EnvVar {
    pub name: &'static str,
    pub description: &'static str,
}

pub const NO_COLOR: &str = "NO_COLOR";
pub const FAULT: &str = "REENROLL_FAULT";
pub const COLUMNS: &str = "COLUMNS";
pub const TERM: &str = "TERM";

/// reenroll's own variables; the server credentials' are `SERVER`.
pub const OWN: &[EnvVar] = &[
    EnvVar {
        name: NO_COLOR,
        description: "Any value: no colour in terminal output (https://no-color.org).",
    },
    EnvVar {
        name: COLUMNS,
        description: "On a terminal: the width human output wraps at (default: the terminal's width). Off a terminal nothing wraps.",
    },
    EnvVar {
        name: TERM,
        description: "`dumb` (or unset): no colour or symbols in terminal output.",
    },
    EnvVar {
        name: FAULT,
        description: "Test builds only (feature fault-injection): crash or fail at named points.",
    },
];

/// Every environment variable the server steps read (`server::creds`). Documentation and
/// `--help` are generated from this list, so it is the one place to add one.
pub const SERVER: &[EnvVar] = &[
    EnvVar {
        name: "REENROLL_JAMF_URL",
        description: "Jamf Pro server URL, e.g. https://example.jamfcloud.com",
    },
    EnvVar {
        name: "REENROLL_JAMF_CLIENT_ID",
        description: "Jamf Pro API client id (API Roles and Clients)",
    },
    EnvVar {
        name: "REENROLL_JAMF_CLIENT_SECRET",
        description: "Jamf Pro API client secret",
    },
    EnvVar {
        name: "REENROLL_GRAPH_TENANT_ID",
        description: "Microsoft Entra tenant id (GUID or primary domain)",
    },
    EnvVar {
        name: "REENROLL_GRAPH_CLIENT_ID",
        description: "Entra app registration (application) client id",
    },
    EnvVar {
        name: "REENROLL_GRAPH_CLIENT_SECRET",
        description: "Entra app registration client secret",
    },
    EnvVar {
        name: "REENROLL_GRAPH_URL",
        description: "Microsoft Graph base URL (default https://graph.microsoft.com; national clouds differ)",
    },
    EnvVar {
        name: "REENROLL_LOGIN_URL",
        description: "Entra login base URL (default https://login.microsoftonline.com; national clouds differ)",
    },
];

/// All of them, for `--help` and the README.
pub fn all() -> Vec<(&'static str, &'static str)> {
    OWN.iter()
        .map(|v| (v.name, v.description))
        .chain(SERVER.iter().map(|v| (v.name, v.description)))
        .collect()
}
