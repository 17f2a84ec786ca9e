//! Server-side cleanup through the Jamf Pro API and Microsoft Graph (issue 6): the Cause 6
//! steps that happen on servers (unmanage, delete the Jamf Pro record, the Entra device and the
//! Intune records), done by reenroll itself when API credentials are available.
//!
//! Layers, bottom up: `http` (tokens, retries, errors without secrets) → `jamf` and `graph`
//! (the endpoints) → `cleanup` (plan with GETs only, apply in the safe order). `creds` loads the
//! credentials; `testserver` stands in for all three services in tests.

pub mod cleanup;
pub mod creds;
pub mod graph;
pub mod http;
pub mod jamf;
pub mod secret;

#[cfg(any(test, feature = "fault-injection"))]
pub mod testserver;

pub use cleanup::{
    apply, plan, wait_until_intune_clear, ApplyOptions, Clients, ServerPlan, ServerReport,
    ServerTarget,
};
pub use creds::Credentials;
pub use secret::Secret;

/// What a DELETE achieved. A record that is already gone counts as deleted: a rerun after a
/// crash must not fail on work an earlier run finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeleteOutcome {
    Deleted,
    AlreadyGone,
}
