//! reenroll: resumable, reversible remediation playbooks for Macs managed by Jamf Pro and
//! registered with Microsoft Entra ID / Intune. See ARCHITECTURE.md for the flow through the code.

pub mod device;
pub mod diagnose;
pub mod keychain;
