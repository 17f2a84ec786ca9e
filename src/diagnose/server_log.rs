//! Server-side messages from a Jamf Pro server log (`JAMFSoftwareServer.log`) the admin passes
//! with `--server-log FILE`: "Unable to connect to Microsoft Intune" (Cause 3) and "Could not
//! retrieve the access token for Microsoft Graph API" (P7). The server's time zone is unknown,
//! so times are shown as written.

use std::path::Path;

use super::{clock::parse_iso_prefix, lines, norm, Confidence, Ctx, Evidence, Finding, Remedy};

const UNABLE_TO_CONNECT: &str = "Unable to connect to Microsoft Intune";
const NO_GRAPH_TOKEN: &str = "Could not retrieve the access token for Microsoft Graph API";

/// Matching lines kept as evidence per finding (the most recent).
const MAX_SHOWN: usize = 3;

#[derive(Default)]
struct Hits {
    count: u64,
    shown: Vec<Evidence>,
}

/// Returns whether the log could be read (if not, C3 and P7 stay "not visible").
pub(super) fn check(ctx: &mut Ctx, path: &Path) -> bool {
    let source = path.display().to_string();
    let mut hits = [Hits::default(), Hits::default()];
    let result = lines::for_each_line(path, |n, text| {
        let folded = norm::fold(text);
        for (needle, h) in [UNABLE_TO_CONNECT, NO_GRAPH_TOKEN]
            .iter()
            .zip(hits.iter_mut())
        {
            if !norm::contains(&folded, needle) {
                continue;
            }
            h.count += 1;
            h.shown.push(Evidence {
                source: source.clone(),
                line: Some(n),
                time: text
                    .get(..19)
                    .filter(|_| parse_iso_prefix(text).is_some())
                    .map(str::to_string),
                text: super::clip(text),
            });
            if h.shown.len() > MAX_SHOWN {
                h.shown.remove(0);
            }
        }
    });
    if let Err(e) = result {
        ctx.could_not_read(source, lines::read_error_reason(&e));
        return false;
    }
    let [intune, graph] = hits;
    let times = |n: u64| {
        if n == 1 {
            "once".to_string()
        } else {
            format!("{n} times")
        }
    };
    if intune.count > 0 {
        ctx.find(Finding {
            id: "C3".into(),
            title: format!(
                "Jamf Pro could not connect to Microsoft Intune: a user has no valid Intune or \
                 Jamf licence (server log, {})",
                times(intune.count)
            ),
            evidence: intune.shown,
            confidence: Confidence::High,
            remedy: Remedy {
                server: Some(
                    "Give every affected user a valid Microsoft Intune licence and a Microsoft \
                     Entra ID P1 licence (Microsoft 365 admin center), and renew the Jamf Pro \
                     licence if it has expired; then check the Microsoft Intune Integration \
                     configuration in Jamf Pro."
                        .into(),
                ),
                ..Default::default()
            },
        });
    }
    if graph.count > 0 {
        ctx.find(Finding {
            id: "P7".into(),
            title: format!(
                "Jamf Pro could not get a Microsoft Graph API access token (server log, {})",
                times(graph.count)
            ),
            evidence: graph.shown,
            confidence: Confidence::High,
            remedy: Remedy {
                server: Some(
                    "In Entra ID, give the Jamf Pro application exactly one API permission, \
                     Intune update_device_attributes, with admin consent granted (Cause 1); renew \
                     expired Jamf or Intune licences (Cause 3); open the network ports Jamf Pro \
                     needs to reach Microsoft."
                        .into(),
                ),
                ..Default::default()
            },
        });
    }
    true
}
