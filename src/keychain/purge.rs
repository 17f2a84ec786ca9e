//! The purge algorithm, the same for every backend: select items by the rules, export what can
//! be put back, delete, and believe only a re-query.
//!
//! Real keychains defeat the obvious loop: several items share one identity (one delete removes
//! one of them), a delete can report success without deleting (`security delete-generic-password`
//! has been seen to), and an app may write an item back meanwhile. So after every delete the
//! keychain is listed again and the copies of that identity are counted; a delete counts only
//! when the count drops, and a count that will not drop becomes an exception, never a deletion.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::rules::{Decision, PurgeRules};
use super::{ItemClass, Keychain, KeychainItem};

/// How many deletes in a row may leave the count unchanged before an item is given up.
pub const STUCK_TRIES: usize = 3;

/// One item a purge would delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub item: KeychainItem,
    /// The remove-rule that selected it.
    pub rule: String,
    /// Whether rollback can put it back: it can be exported and is not a private key.
    pub reversible: bool,
}

/// What `purge` tells its caller as it goes, so the caller journals before the next change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeEvent {
    /// Sent before the delete. `item.data` holds the secret: write it to the journal (0600),
    /// never to a log. An error from the sink stops the purge before the delete.
    Exported { item: KeychainItem, rule: String },
    /// Sent right before every delete call (write-ahead: the caller journals the intent here).
    /// `exported` says whether this copy's `Exported` event came first. A delete that did not
    /// take is followed by another `Deleting` for the same copy.
    Deleting {
        item: KeychainItem,
        rule: String,
        exported: bool,
    },
    /// Sent once a re-query shows one copy fewer. `exported` says whether an `Exported` event
    /// for this copy came first (false: the deletion cannot be undone). A backend that removed
    /// several copies at once sends one per copy, the later ones without a `Deleting` of their own.
    Deleted {
        item: KeychainItem,
        rule: String,
        exported: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedItem {
    pub item: KeychainItem,
    pub rule: String,
    pub exported: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeException {
    pub item: KeychainItem,
    pub rule: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub deleted: Vec<DeletedItem>,
    /// Items that are still there, and why. A step with exceptions has not succeeded.
    pub exceptions: Vec<PurgeException>,
    /// Items a remove-rule matched but a keep-rule protected, with the keep-rule's name.
    pub kept: Vec<(KeychainItem, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreOutcome {
    Added,
    AlreadyPresent,
}

/// Whether a deletion can be undone: an item that can leave the keychain, and never a private
/// key (even an "extractable" one: reenroll does not export keys).
pub fn reversible(item: &KeychainItem) -> bool {
    item.extractable && item.class != Some(ItemClass::PrivateKey)
}

/// What a purge would do to one keychain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// The items it would delete, in keychain order.
    pub delete: Vec<Planned>,
    /// The items a remove-rule matched but a keep-rule protects, with the keep-rule's name.
    pub kept: Vec<(KeychainItem, String)>,
}

/// What the rules select, in keychain order, without changing anything.
pub fn preview(kc: &dyn Keychain, rules: &PurgeRules) -> Result<Preview> {
    let items = kc
        .list()
        .context("listing the keychain to plan the purge")?;
    let (delete, kept) = select(&items, rules);
    Ok(Preview { delete, kept })
}

fn select(
    items: &[KeychainItem],
    rules: &PurgeRules,
) -> (Vec<Planned>, Vec<(KeychainItem, String)>) {
    let mut planned = Vec::new();
    let mut kept = Vec::new();
    for item in items {
        match rules.decide(item) {
            Decision::Remove { rule } => planned.push(Planned {
                item: item.clone(),
                rule,
                reversible: reversible(item),
            }),
            Decision::Keep { rule } => kept.push((item.clone(), rule)),
            Decision::Ignore => {}
        }
    }
    (planned, kept)
}

fn copies(kc: &dyn Keychain, item: &KeychainItem) -> Result<usize> {
    Ok(kc
        .list()
        .with_context(|| format!("listing the keychain again to verify {}", item.describe()))?
        .iter()
        .filter(|i| i.same_identity(item))
        .count())
}

/// Delete every item the rules select, exporting first what can be put back. Idempotent: a
/// second run finds nothing to do. Errors are for a keychain that cannot be listed or a sink
/// that failed; items that resist deletion end up in `exceptions`.
pub fn purge(
    kc: &dyn Keychain,
    rules: &PurgeRules,
    sink: &mut dyn FnMut(PurgeEvent) -> Result<()>,
) -> Result<PurgeReport> {
    let items = kc.list().context("listing the keychain to purge it")?;
    let (planned, kept) = select(&items, rules);
    let mut report = PurgeReport {
        kept,
        ..Default::default()
    };
    let mut done: Vec<&KeychainItem> = Vec::new();
    for Planned { item, rule, .. } in &planned {
        // Copies with the same identity are handled together, by counting.
        if done.iter().any(|d| d.same_identity(item)) {
            continue;
        }
        done.push(item);
        purge_identity(kc, item, rule, sink, &mut report)?;
    }
    Ok(report)
}

fn purge_identity(
    kc: &dyn Keychain,
    item: &KeychainItem,
    rule: &str,
    sink: &mut dyn FnMut(PurgeEvent) -> Result<()>,
    report: &mut PurgeReport,
) -> Result<()> {
    let exception = |reason: String| PurgeException {
        item: item.clone(),
        rule: rule.to_string(),
        reason,
    };
    let mut remaining = copies(kc, item)?;
    let mut stuck = 0;
    // Whether the copy about to be deleted has been exported already (a delete that did not
    // take must not export the same copy again).
    let mut exported = false;
    let mut export_pending = true;
    while remaining > 0 {
        // Ask for every copy (not only when the first copy seen was extractable): copies of one
        // identity can differ, and the backend says `None` for one it cannot export.
        if export_pending && item.class != Some(ItemClass::PrivateKey) {
            match kc.export(item) {
                Ok(Some(data)) => {
                    let mut with_data = item.clone();
                    with_data.data = Some(data);
                    sink(PurgeEvent::Exported {
                        item: with_data,
                        rule: rule.to_string(),
                    })?;
                    exported = true;
                }
                // The backend cannot export it silently: delete anyway, irreversibly.
                Ok(None) => exported = false,
                Err(e) => {
                    report.exceptions.push(exception(format!(
                        "could not export it before deleting, so it was left in place: {e:#}"
                    )));
                    return Ok(());
                }
            }
            export_pending = false;
        }
        sink(PurgeEvent::Deleting {
            item: item.clone(),
            rule: rule.to_string(),
            exported,
        })?;
        if let Err(e) = kc.delete(item) {
            report
                .exceptions
                .push(exception(format!("the delete failed: {e:#}")));
            return Ok(());
        }
        let now = copies(kc, item)?;
        if now < remaining {
            // A backend that removed several copies at once removed the later ones unexported.
            for n in 0..remaining - now {
                let exported = exported && n == 0;
                sink(PurgeEvent::Deleted {
                    item: item.clone(),
                    rule: rule.to_string(),
                    exported,
                })?;
                report.deleted.push(DeletedItem {
                    item: item.clone(),
                    rule: rule.to_string(),
                    exported,
                });
            }
            remaining = now;
            stuck = 0;
            export_pending = true;
            exported = false;
        } else {
            stuck += 1;
            if stuck >= STUCK_TRIES {
                report.exceptions.push(exception(format!(
                    "still in the keychain after {STUCK_TRIES} deletes that reported success \
                     ({now} cop{} left); something may be writing it back (quit Company Portal \
                     and Jamf Conditional Access) or the keychain refuses the delete",
                    if now == 1 { "y" } else { "ies" }
                )));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Put one exported item back (rollback). Idempotent: a copy with the same identity and the
/// same data that is already there is left alone. For several items use `restore_copies`.
pub fn restore(kc: &dyn Keychain, item: &KeychainItem) -> Result<RestoreOutcome> {
    restore_copies(kc, std::slice::from_ref(item))
        .pop()
        .expect("one outcome per item")
}

/// Put back a set of exported items, copies of one identity included; an error for the first
/// item that could not be put back. See `restore_copies`.
pub fn restore_all(kc: &dyn Keychain, items: &[KeychainItem]) -> Result<Vec<RestoreOutcome>> {
    restore_copies(kc, items).into_iter().collect()
}

/// Put back a set of exported items, each on its own (one result per item, in order). Each
/// export is one copy, told apart from the other copies of its identity by its data: a copy
/// with the same identity and the same data in the keychain answers for one export (never for
/// two), every other export is added. So a rollback interrupted halfway can run again, and a
/// copy the purge never reached does not stand in for one it deleted.
pub fn restore_copies(kc: &dyn Keychain, items: &[KeychainItem]) -> Vec<Result<RestoreOutcome>> {
    // Per identity: the data of the copies in the keychain not yet matched to an export.
    let mut present: Vec<(&KeychainItem, Result<_, String>)> = Vec::new();
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let Some(data) = &item.data else {
            outcomes.push(Err(anyhow::anyhow!(
                "{} was not exported before it was deleted, so it cannot be put back",
                item.describe()
            )));
            continue;
        };
        let slot = match present.iter().position(|(i, _)| i.same_identity(item)) {
            Some(p) => p,
            None => {
                let copies = kc
                    .export_copies(item)
                    .with_context(|| {
                        format!("reading the copies of {} in the keychain", item.describe())
                    })
                    .map_err(|e| format!("{e:#}"));
                present.push((item, copies));
                present.len() - 1
            }
        };
        let there = match &mut present[slot].1 {
            Ok(there) => there,
            Err(e) => {
                outcomes.push(Err(anyhow::anyhow!("{e}")));
                continue;
            }
        };
        if let Some(p) = there
            .iter()
            .position(|d| d.as_deref() == Some(data.as_slice()))
        {
            there.remove(p);
            outcomes.push(Ok(RestoreOutcome::AlreadyPresent));
            continue;
        }
        outcomes.push(
            copies(kc, item)
                .and_then(|before| add_verified(kc, item, before + 1))
                .map(|()| RestoreOutcome::Added),
        );
    }
    outcomes
}

fn add_verified(kc: &dyn Keychain, item: &KeychainItem, expected: usize) -> Result<()> {
    kc.add(item)
        .with_context(|| format!("putting {} back into the keychain", item.describe()))?;
    if copies(kc, item)? < expected {
        bail!(
            "{} was added back but a re-query does not find it; check the keychain by hand",
            item.describe()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::device::Device;
    use crate::keychain::sandbox::SandboxKeychain;
    use crate::keychain::KeychainLocation;

    fn rules() -> PurgeRules {
        toml::from_str(
            r#"
[[remove]]
name = "Workplace Join application passwords"
class = ["generic-password"]
account = { prefix = "com.microsoft.workplacejoin." }
[[remove]]
name = "Microsoft"
any = { contains = "microsoft" }
[[remove]]
name = "JAMF"
any = { contains = "jamf" }
[[keep]]
name = "the JAMF keys"
class = ["public-key", "private-key"]
label = { equals = "JAMF" }
"#,
        )
        .unwrap()
    }

    fn genp(account: &str, data: &[u8]) -> KeychainItem {
        KeychainItem {
            class: Some(ItemClass::GenericPassword),
            account: Some(account.into()),
            service: Some("com.microsoft.workplacejoin".into()),
            data: Some(data.to_vec()),
            extractable: true,
            ..Default::default()
        }
    }

    fn key(class: ItemClass, label: &str) -> KeychainItem {
        KeychainItem {
            class: Some(class),
            label: Some(label.into()),
            data: Some(vec![9; 4]),
            extractable: class != ItemClass::PrivateKey,
            ..Default::default()
        }
    }

    fn chrome() -> KeychainItem {
        KeychainItem {
            class: Some(ItemClass::GenericPassword),
            label: Some("Chrome Safe Storage".into()),
            service: Some("Chrome Safe Storage".into()),
            account: Some("Chrome".into()),
            data: Some(b"chrome".to_vec()),
            extractable: true,
            ..Default::default()
        }
    }

    fn sandbox() -> (tempfile::TempDir, SandboxKeychain) {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let loc = KeychainLocation::User {
            name: "zoë".into(),
            uid: 502,
            home: "/Volumes/Data/home/zoë".into(),
        };
        let kc = SandboxKeychain::create(&device, &loc).unwrap();
        (dir, kc)
    }

    fn events_of(kc: &dyn Keychain, rules: &PurgeRules) -> (PurgeReport, Vec<PurgeEvent>) {
        let mut events = Vec::new();
        let report = purge(kc, rules, &mut |e| {
            events.push(e);
            Ok(())
        })
        .unwrap();
        (report, events)
    }

    #[test]
    fn purges_every_copy_exports_first_and_keeps_the_rest() {
        let (_dir, kc) = sandbox();
        let stamp = "com.microsoft.workplacejoin.devicePatchAttemptTimestamp";
        for item in [
            genp(stamp, b"one"),
            genp(stamp, b"two"),
            key(ItemClass::PrivateKey, "Microsoft Session Transport Key"),
            key(ItemClass::PublicKey, "JAMF"),
            key(ItemClass::PrivateKey, "JAMF"),
            chrome(),
        ] {
            kc.add(&item).unwrap();
        }
        let preview = preview(&kc, &rules()).unwrap();
        let plan = &preview.delete;
        assert_eq!(plan.len(), 3);
        let kept: Vec<_> = preview
            .kept
            .iter()
            .map(|(i, r)| (i.class, r.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                (Some(ItemClass::PublicKey), "the JAMF keys"),
                (Some(ItemClass::PrivateKey), "the JAMF keys")
            ]
        );
        assert!(plan[0].reversible && plan[1].reversible);
        assert!(!plan[2].reversible, "private keys cannot be put back");

        let (report, events) = events_of(&kc, &rules());
        assert_eq!(report.deleted.len(), 3);
        assert!(report.exceptions.is_empty());
        assert_eq!(report.kept.len(), 2);
        // Each copy is exported before its delete, with its own data.
        let exported: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                PurgeEvent::Exported { item, .. } => item.data.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(exported, vec![b"one".to_vec(), b"two".to_vec()]);
        // Exported, then announced (write-ahead), then confirmed by a re-query.
        assert!(matches!(events[0], PurgeEvent::Exported { .. }));
        assert!(matches!(
            events[1],
            PurgeEvent::Deleting { exported: true, .. }
        ));
        assert!(matches!(
            events[2],
            PurgeEvent::Deleted { exported: true, .. }
        ));
        // Every Deleted was announced by a Deleting first.
        let announced = events
            .iter()
            .filter(|e| matches!(e, PurgeEvent::Deleting { .. }))
            .count();
        let deleted = events
            .iter()
            .filter(|e| matches!(e, PurgeEvent::Deleted { .. }))
            .count();
        assert_eq!(announced, deleted);
        assert!(matches!(
            events.last().unwrap(),
            PurgeEvent::Deleted {
                exported: false,
                ..
            }
        ));
        let left = kc.list().unwrap();
        assert_eq!(left.len(), 3);
        assert!(left.iter().any(|i| i.same_identity(&chrome())));

        // Idempotent: nothing left to do.
        let (again, events) = events_of(&kc, &rules());
        assert!(again.deleted.is_empty() && events.is_empty());

        // Rollback puts both copies back, once, even when run twice.
        let saved: Vec<_> = exported.iter().map(|d| genp(stamp, d)).collect::<Vec<_>>();
        assert_eq!(
            restore_all(&kc, &saved).unwrap(),
            vec![RestoreOutcome::Added, RestoreOutcome::Added]
        );
        assert_eq!(
            restore_all(&kc, &saved).unwrap(),
            vec![
                RestoreOutcome::AlreadyPresent,
                RestoreOutcome::AlreadyPresent
            ]
        );
        assert_eq!(kc.export(&genp(stamp, b"")).unwrap().unwrap(), b"one");
        assert_eq!(
            restore(&kc, &saved[0]).unwrap(),
            RestoreOutcome::AlreadyPresent
        );
    }

    /// Rollback after a purge cut short between two copies: the copy still there must not stand
    /// in for the deleted one (a copy is told apart by its data).
    #[test]
    fn rollback_adds_exactly_the_missing_copy_of_an_identity() {
        let (_dir, kc) = sandbox();
        let stamp = "com.microsoft.workplacejoin.devicePatchAttemptTimestamp";
        kc.add(&genp(stamp, b"two")).unwrap();
        let saved = [genp(stamp, b"one"), genp(stamp, b"two")];
        assert_eq!(
            restore_all(&kc, &saved).unwrap(),
            vec![RestoreOutcome::Added, RestoreOutcome::AlreadyPresent]
        );
        let mut data: Vec<_> = kc
            .export_copies(&genp(stamp, b""))
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        data.sort();
        assert_eq!(data, vec![b"one".to_vec(), b"two".to_vec()]);
        // Two exports with the same data are two copies: one copy there answers for one of them.
        let twins = [genp(stamp, b"one"), genp(stamp, b"one")];
        assert_eq!(
            restore_all(&kc, &twins).unwrap(),
            vec![RestoreOutcome::AlreadyPresent, RestoreOutcome::Added]
        );
        assert_eq!(kc.list().unwrap().len(), 3);
    }

    #[test]
    fn a_failing_sink_stops_before_the_delete() {
        let (_dir, kc) = sandbox();
        kc.add(&genp("com.microsoft.workplacejoin.thumbprint", b"t"))
            .unwrap();
        let err = purge(&kc, &rules(), &mut |_| bail!("journal full")).unwrap_err();
        assert!(err.to_string().contains("journal full"));
        assert_eq!(kc.list().unwrap().len(), 1);
    }

    #[test]
    fn restore_refuses_an_item_without_data() {
        let (_dir, kc) = sandbox();
        let mut k = key(ItemClass::PrivateKey, "Microsoft Workplace Join Key");
        k.data = None;
        assert!(restore(&kc, &k)
            .unwrap_err()
            .to_string()
            .contains("cannot be put back"));
    }

    /// A keychain in memory whose deletes misbehave on purpose.
    struct Liar {
        items: RefCell<Vec<KeychainItem>>,
        mode: Mode,
    }

    enum Mode {
        /// Delete returns Ok and removes nothing.
        Lies,
        /// Delete removes every copy of the identity at once.
        RemovesAll,
        /// Delete fails like Company Portal's -25244.
        Refuses,
    }

    impl Keychain for Liar {
        fn list(&self) -> Result<Vec<KeychainItem>> {
            Ok(self
                .items
                .borrow()
                .iter()
                .cloned()
                .map(|mut i| {
                    i.data = None;
                    i
                })
                .collect())
        }
        fn export(&self, item: &KeychainItem) -> Result<Option<Vec<u8>>> {
            Ok(self
                .items
                .borrow()
                .iter()
                .find(|i| i.same_identity(item))
                .and_then(|i| i.data.clone()))
        }
        fn export_copies(&self, item: &KeychainItem) -> Result<Vec<Option<Vec<u8>>>> {
            Ok(self
                .items
                .borrow()
                .iter()
                .filter(|i| i.same_identity(item))
                .map(|i| i.data.clone())
                .collect())
        }
        fn delete(&self, item: &KeychainItem) -> Result<()> {
            match self.mode {
                Mode::Lies => Ok(()),
                Mode::RemovesAll => {
                    self.items.borrow_mut().retain(|i| !i.same_identity(item));
                    Ok(())
                }
                Mode::Refuses => bail!("errSecInvalidOwnerEdit (-25244)"),
            }
        }
        fn add(&self, item: &KeychainItem) -> Result<()> {
            self.items.borrow_mut().push(item.clone());
            Ok(())
        }
    }

    fn liar(mode: Mode) -> Liar {
        let stamp = "com.microsoft.workplacejoin.devicePatchAttemptTimestamp";
        Liar {
            items: RefCell::new(vec![genp(stamp, b"one"), genp(stamp, b"two"), chrome()]),
            mode,
        }
    }

    #[test]
    fn a_delete_that_lies_is_an_exception_not_a_deletion() {
        let kc = liar(Mode::Lies);
        let (report, events) = events_of(&kc, &rules());
        assert!(report.deleted.is_empty());
        assert_eq!(report.exceptions.len(), 1);
        assert!(report.exceptions[0]
            .reason
            .contains("still in the keychain"));
        // Exported once, not once per try; every try announced before it was made.
        assert!(matches!(events[0], PurgeEvent::Exported { .. }));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, PurgeEvent::Exported { .. }))
                .count(),
            1
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, PurgeEvent::Deleting { .. }))
                .count(),
            STUCK_TRIES
        );
        assert!(!events
            .iter()
            .any(|e| matches!(e, PurgeEvent::Deleted { .. })));
    }

    #[test]
    fn a_delete_that_takes_every_copy_reports_the_later_ones_unexported() {
        let kc = liar(Mode::RemovesAll);
        let (report, _) = events_of(&kc, &rules());
        assert_eq!(report.deleted.len(), 2);
        assert!(report.deleted[0].exported);
        assert!(!report.deleted[1].exported);
        assert_eq!(kc.list().unwrap().len(), 1);
    }

    #[test]
    fn a_refused_delete_is_an_exception_with_the_reason() {
        let kc = liar(Mode::Refuses);
        let (report, _) = events_of(&kc, &rules());
        assert!(report.deleted.is_empty());
        assert!(report.exceptions[0].reason.contains("-25244"));
    }
}
