//! reenroll: resumable, reversible remediation playbooks for Macs managed by Jamf Pro and
//! registered with Microsoft Entra ID / Intune. See ARCHITECTURE.md for the flow through the code.

pub mod action;
pub mod app;
pub mod ask;
pub mod cli;
pub mod demo;
pub mod device;
pub mod diagnose;
pub mod engine;
pub mod env_vars;
pub mod error;
pub mod executor;
pub mod fault;
pub mod interactive;
pub mod jamf_policy;
pub mod journal;
pub mod keychain;
pub mod logging;
pub mod manpage;
pub mod output;
pub mod plan;
pub mod planfile;
pub mod playbook;
pub mod report;
pub mod sandbox;
pub mod server;
pub mod server_cleanup;
pub mod settings;
