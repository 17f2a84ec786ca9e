# Shared by every fake program of a reenroll sandbox device (prepended at install time).
# Finds the sandbox root DIR from the script's own location, records the call in
# DIR/var/log/sandbox-commands.log and offers helpers that act on files inside DIR only.
set -u

# NOTE: walk up to the marker instead of trusting a fixed depth: the fakes are also reached
# through symlinks (/usr/local/bin/jamf, /usr/local/jamf/bin/jamfAAD) whose depth differs.
# Stopping at / without a marker means we are not in a sandbox: refuse rather than act on the host.
sandbox_self_dir=$(cd "$(dirname "$0")" 2>/dev/null && pwd -P) || {
    echo "$0: cannot find its own folder" >&2
    exit 70
}
SANDBOX_DIR=$sandbox_self_dir
while [ ! -f "$SANDBOX_DIR/var/db/sandbox/device" ]; do
    case $SANDBOX_DIR in
    / | "")
        echo "$0: not inside a reenroll sandbox device (no var/db/sandbox/device above it)" >&2
        exit 70
        ;;
    esac
    SANDBOX_DIR=$(dirname "$SANDBOX_DIR")
done
case $SANDBOX_DIR in /) SANDBOX_DIR= ;; esac
S=$SANDBOX_DIR/var/db/sandbox
SANDBOX_MAC0=${sandbox_self_dir#"$SANDBOX_DIR"}/$(basename "$0")

sandbox_log() {
    mkdir -p "$SANDBOX_DIR/var/log"
    sandbox_line=$SANDBOX_MAC0
    for sandbox_arg in "$@"; do
        sandbox_line="$sandbox_line $sandbox_arg"
    done
    # One call, one line, even when an argument holds a newline.
    printf '%s' "$sandbox_line" | tr '\n' ' ' >>"$SANDBOX_DIR/var/log/sandbox-commands.log"
    printf '\n' >>"$SANDBOX_DIR/var/log/sandbox-commands.log"
}
sandbox_log "$@"

# Refuse a path or name that could climb out of the sandbox.
inside_only() {
    case $1 in
    .. | ../* | */.. | */../*)
        echo "$SANDBOX_MAC0: refusing \`$1\`: \`..\` could lead outside the sandbox" >&2
        exit 64
        ;;
    esac
}

# The value of a state file (empty when absent).
state() { if [ -f "$S/$1" ]; then cat "$S/$1"; fi; }
# Whether a flag file is present.
flag() { [ -e "$S/$1" ]; }
# users.txt mirrors the binary user records for the fakes:
# name TAB uid TAB home TAB realname TAB primary gid (20, staff, when the column is missing).
home_of_user() { awk -F '\t' -v n="$1" '$1 == n { print $3; exit }' "$S/users.txt"; }
uid_of_user() { awk -F '\t' -v n="$1" '$1 == n { print $2; exit }' "$S/users.txt"; }
gid_of_user() {
    awk -F '\t' -v n="$1" '$1 == n { if ($5 == "") print 20; else print $5; exit }' "$S/users.txt"
}
home_of_uid() { awk -F '\t' -v u="$1" '$2 == u { print $3; exit }' "$S/users.txt"; }
realname_of_user() { awk -F '\t' -v n="$1" '$1 == n { print $4; exit }' "$S/users.txt"; }
console_name() { state console-user | awk '{ print $1; exit }'; }
console_uid() { state console-user | awk '{ print $2; exit }'; }
jss_url() { state jss-url; }

# launchd's loaded jobs: one file per job, $S/launchd/<domain>/<label>, holding the plist path.
plist_label() {
    sandbox_label=$(grep -A1 '<key>Label</key>' "$1" 2>/dev/null |
        sed -n 's/.*<string>\(.*\)<\/string>.*/\1/p' | head -n 1)
    if [ -z "$sandbox_label" ]; then sandbox_label=$(basename "$1" .plist); fi
    printf '%s\n' "$sandbox_label"
}
launchd_load() { # domain mac-plist-path
    inside_only "$1"
    mkdir -p "$S/launchd/$1"
    printf '%s\n' "$2" >"$S/launchd/$1/$(plist_label "$SANDBOX_DIR$2")"
}
launchd_loaded() {
    inside_only "$1/$2"
    [ -f "$S/launchd/$1/$2" ]
}
launchd_unload() {
    inside_only "$1/$2"
    rm -f "$S/launchd/$1/$2"
}

enrollment_text() { # yes|no
    sandbox_dep=No
    if flag ade; then sandbox_dep=Yes; fi
    if [ "$1" = yes ]; then
        printf 'Enrolled via DEP: %s\nMDM enrollment: Yes (User Approved)\n' "$sandbox_dep"
    else
        printf 'Enrolled via DEP: %s\nMDM enrollment: No\n' "$sandbox_dep"
    fi
}

# A re-enrollment: the framework comes back from the pristine copy, with the MDM profile.
sandbox_restore_framework() {
    cp -RPp "$S/framework/." "$SANDBOX_DIR/" || return 1
    : >"$S/mdm-profile"
    enrollment_text yes >"$S/enrollment"
    for sandbox_p in "$SANDBOX_DIR"/Library/LaunchDaemons/com.jamf*.plist; do
        [ -f "$sandbox_p" ] && launchd_load system "${sandbox_p#"$SANDBOX_DIR"}"
    done
    sandbox_uid=$(console_uid)
    if [ -n "$sandbox_uid" ]; then
        for sandbox_p in "$SANDBOX_DIR"/Library/LaunchAgents/com.jamf*.plist; do
            [ -f "$sandbox_p" ] && launchd_load "gui/$sandbox_uid" "${sandbox_p#"$SANDBOX_DIR"}"
        done
    fi
    return 0
}

# The program the sandbox's sudo and launchctl asuser run for CMD, in $sandbox_program: a Mac
# path that exists inside DIR runs from DIR; the host's own system programs are never run in its
# place (exit 127); anything else (reenroll's own binary, by its host path) as given.
sandbox_resolve() {
    sandbox_program=$1
    inside_only "$sandbox_program"
    case $sandbox_program in
    /*)
        if [ -e "$SANDBOX_DIR$sandbox_program" ]; then
            sandbox_program=$SANDBOX_DIR$sandbox_program
            return 0
        fi
        case $sandbox_program in
        /bin/* | /sbin/* | /usr/bin/* | /usr/sbin/* | /usr/libexec/* | /System/* | /Library/* | /Applications/* | /usr/local/jamf/*)
            echo "$SANDBOX_MAC0: $sandbox_program is not faked in this sandbox; refusing to run the host's copy" >&2
            exit 127
            ;;
        esac
        ;;
    esac
}
sandbox_exec() {
    sandbox_resolve "$1"
    shift
    exec "$sandbox_program" "$@"
}

# Whether the fake really runs as root (a sandbox driven by root, as reenroll is on a Mac).
is_root() { [ "$(id -u)" = 0 ]; }
# Whether the fake stands for a program run by root, for fakes that refuse users as macOS does:
# root itself, or the non-root owner of a sandbox (the demo, a developer's own account: there the
# caller plays root), unless the fake sudo ran it as a user (SANDBOX_USER, set even where it
# could not drop privileges).
acts_as_root() {
    [ -z "${SANDBOX_USER:-}" ] || return 1
    is_root && return 0
    [ "$(id -u)" = "$(ls -nd "$S" | awk '{ print $3 }')" ]
}

# What the Mac's own root daemons (mdmclient, installd) do about requests a user's program left
# in $S/spool (a sticky 1777 folder, like /private/tmp): a user cannot write the system's files,
# so the fake `open` run as a user only asks. Done by whoever may write the device's state: the
# sudo that ran the user's program, once it ended, or the fake itself when it runs as root.
sandbox_system_events() {
    [ -w "$S" ] || return 0
    if [ -f "$S/spool/enroll" ]; then
        rm -f "$S/spool/enroll"
        sandbox_restore_framework || return 1
    fi
    return 0
}
# --- end of the prelude ---
