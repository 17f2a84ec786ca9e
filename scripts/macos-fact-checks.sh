#!/usr/bin/env bash
# On a real Mac (the GitHub macOS runner): check the macOS behaviours that the sandbox's fake
# programs claim, wherever that can be done without changing the machine. Each check prints
# `ok: …` or `FAIL: …`; the script exits 1 if any failed. ARCHITECTURE.md ("The fakes") lists
# per fake what it reproduces; this script is where those claims meet a Mac.
#
# Never schedules a restart, never removes or renews a profile, never touches a keychain but
# temporary ones of its own: every command below is read-only, refused as non-root, or acts on
# a temporary folder it deletes. It needs passwordless sudo (GitHub's runners have it) for the
# checks that compare root with another user.
set -uo pipefail

[[ $(uname -s) == Darwin ]] || {
    echo "macos-fact-checks: this runs on macOS only" >&2
    exit 2
}
[[ $(id -u) != 0 ]] || {
    echo "macos-fact-checks: run it as an ordinary user (some checks need a non-root caller)" >&2
    exit 2
}

failed=0
ok() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*"
    failed=1
}
tmp=$(mktemp -d /tmp/reenroll-facts.XXXXXX)
cleanup() { sudo rm -rf "$tmp"; }
trap cleanup EXIT
chmod 0755 "$tmp"

# profiles: `renew` and `show -type enrollment` need root (the fake answers the same).
for verb in renew show; do
    out=$(/usr/bin/profiles "$verb" -type enrollment 2>&1)
    rc=$?
    if [[ $rc != 0 && $out == *"Must be running as root"* ]]; then
        ok "profiles $verb -type enrollment refuses a non-root caller: '$out'"
    else
        fail "profiles $verb -type enrollment as non-root: exit $rc, '$out'"
    fi
done

# profiles status -type enrollment: the two lines reenroll parses.
out=$(/usr/bin/profiles status -type enrollment 2>&1)
if grep -q '^Enrolled via DEP: ' <<<"$out" && grep -q '^MDM enrollment: ' <<<"$out"; then
    ok "profiles status -type enrollment prints 'Enrolled via DEP:' and 'MDM enrollment:'"
else
    fail "profiles status -type enrollment printed: $out"
fi

# launchctl asuser enters a session but does not change credentials (the fake keeps root).
uid=$(id -u)
out=$(sudo /bin/launchctl asuser "$uid" /usr/bin/id -u 2>&1)
if [[ $out == 0 ]]; then
    ok "launchctl asuser $uid keeps root's credentials (id -u: 0)"
else
    fail "launchctl asuser $uid id -u printed '$out' (expected 0)"
fi
# ... while sudo -u USER does drop them (the fake drops with setpriv).
out=$(sudo -u nobody /usr/bin/id -u 2>&1)
if [[ $out == "$(id -u nobody)" ]]; then
    ok "sudo -u nobody runs as nobody's uid ($out)"
else
    fail "sudo -u nobody id -u printed '$out'"
fi

# A binary inside a root-only 0700 folder cannot be run by another user; inside 0755 folders
# (reenroll's state root and bin/) it can. This is why the LaunchDaemon's copy is 0755.
sudo mkdir -m 0700 "$tmp/private" && sudo mkdir -m 0755 "$tmp/public" &&
    sudo cp /bin/echo "$tmp/private/echo" && sudo cp /bin/echo "$tmp/public/echo" &&
    sudo chmod 0755 "$tmp/private/echo" "$tmp/public/echo"
if ! sudo -u nobody "$tmp/private/echo" x >/dev/null 2>&1; then
    ok "sudo -u nobody cannot execute a binary in a root-only 0700 folder"
else
    fail "sudo -u nobody executed a binary in a 0700 root-only folder"
fi
if [[ $(sudo -u nobody "$tmp/public/echo" x 2>&1) == x ]]; then
    ok "sudo -u nobody executes a root:wheel 0755 binary in 0755 folders"
else
    fail "sudo -u nobody could not execute a 0755 binary in 0755 folders"
fi

# pgrep -x shutdown finds no process when no restart is pending (the fake's default).
if /usr/bin/pgrep -x shutdown >/dev/null; then
    fail "a shutdown process is running on this runner"
else
    ok "pgrep -x shutdown exits 1 when no restart is scheduled"
fi

# scutil's console user, in the format of shared/reference/samples/scutil_console_user.txt.
out=$(printf 'show State:/Users/ConsoleUser\n' | /usr/sbin/scutil 2>&1)
if [[ $out == *"<dictionary> {"* ]] || [[ $out == *"No such key"* ]]; then
    ok "scutil show State:/Users/ConsoleUser answers a dictionary (or No such key)"
else
    fail "scutil show State:/Users/ConsoleUser printed: $out"
fi

# kern.bootsessionuuid is a UUID (the boot session id the reboot step compares).
out=$(/usr/sbin/sysctl -n kern.bootsessionuuid 2>&1)
if [[ $out =~ ^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$ ]]; then
    ok "sysctl -n kern.bootsessionuuid is a UUID"
else
    fail "sysctl -n kern.bootsessionuuid printed '$out'"
fi

# A keychain file that does not exist is an error of its own (the purge treats the user as
# never logged in), not a locked keychain.
out=$(/usr/bin/security show-keychain-info "$tmp/none.keychain-db" 2>&1)
rc=$?
if [[ $rc != 0 && $out == *"could not be found"* ]]; then
    ok "a missing keychain file: '$out'"
else
    fail "security show-keychain-info on a missing file: exit $rc, '$out'"
fi

exit $failed
