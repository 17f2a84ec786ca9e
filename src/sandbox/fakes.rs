//! The fake programs of a sandbox device: POSIX sh scripts at their real Mac paths. Each one is
//! the shared prelude (find the sandbox root, record the call, helpers) followed by its body.

pub const PRELUDE: &str = include_str!("fakes/prelude.sh");
pub const JAMF: &str = include_str!("fakes/jamf.sh");
pub const CONDITIONAL_ACCESS: &str = include_str!("fakes/jamf_conditional_access.sh");
pub const APP_STUB: &str = include_str!("fakes/app_stub.sh");

/// Where every fake lives on the device, and its body. The Jamf ones are part of the framework
/// (see `layout::plant_framework`).
pub const PROGRAMS: &[(&str, &str)] = &[
    ("/usr/bin/profiles", include_str!("fakes/profiles.sh")),
    ("/usr/bin/open", include_str!("fakes/open.sh")),
    ("/sbin/shutdown", include_str!("fakes/shutdown.sh")),
    ("/bin/launchctl", include_str!("fakes/launchctl.sh")),
    ("/usr/bin/sudo", include_str!("fakes/sudo.sh")),
    ("/usr/sbin/pkgutil", include_str!("fakes/pkgutil.sh")),
    ("/usr/sbin/sysctl", include_str!("fakes/sysctl.sh")),
    ("/usr/sbin/scutil", include_str!("fakes/scutil.sh")),
    ("/usr/sbin/ioreg", include_str!("fakes/ioreg.sh")),
    ("/usr/bin/pkill", include_str!("fakes/processes.sh")),
    ("/usr/bin/killall", include_str!("fakes/processes.sh")),
    ("/usr/bin/pgrep", include_str!("fakes/processes.sh")),
    ("/usr/bin/app-sso", include_str!("fakes/app_sso.sh")),
    ("/usr/bin/log", include_str!("fakes/log.sh")),
    ("/usr/bin/osascript", include_str!("fakes/dialog.sh")),
    ("/usr/local/bin/dialog", include_str!("fakes/dialog.sh")),
];

/// The log every fake appends its command line to (a Mac path).
pub const COMMAND_LOG: &str = "/var/log/sandbox-commands.log";
/// The dialogs the fake `dialog` and `osascript` showed, one line each (a Mac path).
pub const DIALOG_LOG: &str = "/var/log/sandbox-dialogs.log";

/// A complete script: shebang, prelude, body.
pub fn script(body: &str) -> String {
    format!("#!/bin/sh\n{PRELUDE}\n{body}")
}
