//! Problems the Mac cannot show: the article's server-side causes, each with the check the
//! admin makes instead. C3 and P7 join them when no server log was read.

use super::{Ctx, NotVisible};

const ALWAYS: &[(&str, &str, &str)] = &[
    (
        "C1",
        "The Jamf Pro application in Entra ID has wrong or several permissions",
        "In the Entra admin center, open the Jamf Pro application's API permissions: it must hold \
         exactly one, Intune update_device_attributes, with admin consent granted. Remove any \
         other permission.",
    ),
    (
        "C2",
        "The Jamf Native macOS Connector app is missing, or was consented by a non-admin",
        "In Entra ID > Enterprise applications, look for \"Jamf Native macOS Connector\". If it \
         is missing, or its consent was given by an account without Global Administrator rights, \
         redo the consent as a Global Administrator.",
    ),
    (
        "P6",
        "The compliance policy fails to evaluate the device",
        "In Intune, check the compliance policy's assignments: the Jamf integration does not \
         support policies assigned to device groups. Assign it to user groups instead.",
    ),
];

const WITHOUT_SERVER_LOG: &[(&str, &str, &str)] = &[
    (
        "C3",
        "A user has no valid Intune or Jamf licence",
        "Run diagnose with --server-log JAMFSoftwareServer.log, or search it for \"Unable to \
         connect to Microsoft Intune\". Check that every user holds an Intune and an Entra ID P1 \
         licence, and that the Jamf Pro licence is valid.",
    ),
    (
        "P7",
        "Jamf Pro cannot get a Microsoft Graph API access token",
        "Run diagnose with --server-log JAMFSoftwareServer.log, or search it for \"Could not \
         retrieve the access token for Microsoft Graph API\"; Jamf Pro's Microsoft Intune \
         Integration settings show the same message.",
    ),
];

pub(super) fn add(ctx: &mut Ctx, server_log_read: bool) {
    let extra = if server_log_read {
        &[][..]
    } else {
        WITHOUT_SERVER_LOG
    };
    for (id, title, check) in ALWAYS.iter().chain(extra) {
        ctx.report.not_visible_from_device.push(NotVisible {
            id: id.to_string(),
            title: title.to_string(),
            check: check.to_string(),
        });
    }
}
