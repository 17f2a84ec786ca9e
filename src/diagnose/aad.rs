//! P1 from Azure AD's side: jamfAAD records when it last got a token for the user in
//! `~/Library/Preferences/com.jamf.management.jamfAAD.plist` (`last_aad_token_timestamp`, Unix
//! seconds). The token is refreshed every 12 hours; failing for over 24 hours marks the Mac
//! unresponsive. A user without the file never registered on this Mac: nothing to judge.

use super::clock::{age_text, DAY};
use super::{in_home, Confidence, Ctx, Evidence, Finding, Remedy};
use crate::device::LocalUser;

pub const PREFS: &str = "Library/Preferences/com.jamf.management.jamfAAD.plist";
pub const TOKEN_KEY: &str = "last_aad_token_timestamp";

pub(super) fn check(ctx: &mut Ctx, user: &LocalUser) {
    let mac = in_home(user, PREFS);
    let Ok(host) = ctx.device.host_path(&mac) else {
        return ctx.could_not_read(mac, "not a valid path for this user's home");
    };
    let value = match plist::Value::from_file(&host) {
        Ok(v) => v,
        Err(e)
            if e.as_io()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
        {
            return
        }
        Err(e) => {
            return ctx.could_not_read(mac, format!("{e} (run as root to read every user's)"))
        }
    };
    let Some(token_time) = value
        .as_dictionary()
        .and_then(|d| d.get(TOKEN_KEY))
        .and_then(epoch_seconds)
    else {
        return ctx.could_not_read(
            mac,
            format!("it has no readable `{TOKEN_KEY}`: the last Azure AD token time is unknown"),
        );
    };
    let age = ctx.clock.now - token_time;
    if age <= DAY {
        return;
    }
    ctx.find(Finding {
        id: "P1".into(),
        title: format!(
            "Unresponsive: {}'s Azure AD token was last refreshed {} ago (over 24 hours)",
            user.name,
            age_text(age)
        ),
        evidence: vec![Evidence {
            source: mac,
            line: None,
            time: Some(ctx.clock.rfc3339(token_time)),
            text: format!("{TOKEN_KEY} = {token_time}"),
        }],
        confidence: Confidence::High,
        remedy: Remedy {
            manual: Some(format!(
                "{} (the user who registered the Mac: that account holds the Intune identity in its \
                 login keychain) signs in to the Mac again, so jamfAAD can refresh the token.",
                user.name
            )),
            ..Default::default()
        },
    });
}

/// The timestamp as jamfAAD may store it: integer, real, numeric string or date.
fn epoch_seconds(v: &plist::Value) -> Option<i64> {
    match v {
        plist::Value::Integer(i) => i.as_signed(),
        plist::Value::Real(r) if r.is_finite() => Some(*r as i64),
        plist::Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        plist::Value::Date(d) => Some(super::clock::unix_seconds((*d).into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_encoding_of_the_time() {
        assert_eq!(epoch_seconds(&plist::Value::Integer(5.into())), Some(5));
        assert_eq!(epoch_seconds(&plist::Value::Real(5.9)), Some(5));
        assert_eq!(epoch_seconds(&plist::Value::String(" 7 ".into())), Some(7));
        let d = std::time::UNIX_EPOCH + std::time::Duration::from_secs(9);
        assert_eq!(epoch_seconds(&plist::Value::Date(d.into())), Some(9));
        assert_eq!(epoch_seconds(&plist::Value::Boolean(true)), None);
    }
}
