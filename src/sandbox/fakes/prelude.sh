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
# users.txt mirrors the binary user records for the fakes: name TAB uid TAB home TAB realname.
home_of_user() { awk -F '\t' -v n="$1" '$1 == n { print $3; exit }' "$S/users.txt"; }
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

# Run CMD the way the sandbox's sudo and launchctl asuser do: a Mac path that exists inside DIR
# runs from DIR; the host's own system programs are never run in its place.
sandbox_exec() {
    sandbox_cmd=$1
    shift
    inside_only "$sandbox_cmd"
    case $sandbox_cmd in
    /*)
        if [ -e "$SANDBOX_DIR$sandbox_cmd" ]; then
            exec "$SANDBOX_DIR$sandbox_cmd" "$@"
        fi
        case $sandbox_cmd in
        /bin/* | /sbin/* | /usr/bin/* | /usr/sbin/* | /usr/libexec/* | /System/* | /Library/* | /Applications/* | /usr/local/jamf/*)
            echo "$SANDBOX_MAC0: $sandbox_cmd is not faked in this sandbox; refusing to run the host's copy" >&2
            exit 127
            ;;
        esac
        ;;
    esac
    exec "$sandbox_cmd" "$@"
}
# --- end of the prelude ---
