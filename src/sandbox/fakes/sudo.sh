# Fake /usr/bin/sudo: `sudo -u USER CMD ARGS...` runs CMD as USER, with SANDBOX_USER_HOME set to
# USER's home. Run by root, it drops to USER's uid and primary gid from the sandbox's own user
# records (users.txt), with no supplementary groups, through util-linux's setpriv (no host account
# is needed): a root-only binary or a 0700 folder of root's fails as on a Mac. Run by anyone else
# (the demo, a developer's own account) it cannot drop privileges: it says so once per sandbox
# (remembered by /var/log/sandbox-privileges-not-dropped, beside the command log: a note about
# the sandbox, not part of the device's state) and runs CMD as the caller.
user=
while [ $# -gt 0 ]; do
    case $1 in
    -u)
        if [ $# -lt 2 ]; then
            echo "sudo: option requires an argument -- u" >&2
            exit 1
        fi
        user=$2
        shift 2
        ;;
    --)
        shift
        break
        ;;
    -*) shift ;;
    *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    echo "usage: sudo -u user command [args...]" >&2
    exit 1
fi
if [ -z "$user" ]; then
    sandbox_exec "$@"
fi
home=$(home_of_user "$user")
uid=$(uid_of_user "$user")
gid=$(gid_of_user "$user")
if [ -z "$home" ] || [ -z "$uid" ]; then
    echo "sudo: unknown user $user" >&2
    exit 1
fi
SANDBOX_USER=$user
SANDBOX_USER_HOME=$home
export SANDBOX_USER SANDBOX_USER_HOME
sandbox_resolve "$1"
shift
if [ "$(id -u)" = "$uid" ]; then
    exec "$sandbox_program" "$@"
fi
if ! is_root || ! command -v setpriv >/dev/null 2>&1; then
    noted=$SANDBOX_DIR/var/log/sandbox-privileges-not-dropped
    if [ ! -e "$noted" ]; then
        if is_root; then why="this host has no setpriv (util-linux)"; else why="it does not run as root"; fi
        echo "sudo: sandbox: cannot become $user (uid $uid) because $why; running as $(id -un 2>/dev/null || id -u) instead (a Mac would run it as $user)" >&2
        : >"$noted" 2>/dev/null
    fi
    exec "$sandbox_program" "$@"
fi
# NOTE: not exec'ed: once the user's program ends, root does what the Mac's daemons would do
# about its requests (sandbox_system_events), then exits with the program's status.
# NOTE: setpriv re-applies root's capabilities after changing the uid and keeps them until its
# own exec, so the program's path would be looked up with CAP_DAC_OVERRIDE and a 0700 folder of
# root's would not stop it. /bin/sh (no capabilities left) does the exec instead, as the user.
setpriv --reuid="$uid" --regid="$gid" --clear-groups -- /bin/sh -c 'exec "$0" "$@"' "$sandbox_program" "$@"
status=$?
sandbox_system_events
exit $status
