//! Purge rules: which keychain items a purge removes. Data from the playbook, not code.
//! (Being written: see the keychain work in issue 3.)
