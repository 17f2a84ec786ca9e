# Fake /bin/launchctl: keeps which jobs are loaded in $S/launchd/<domain>/<label>.
not_found() {
    echo "Could not find service \"$2\" in domain for $1" >&2
    exit 113
}
verb=${1:-}
[ $# -gt 0 ] && shift
case $verb in
bootstrap)
    domain=${1:-}
    plist=${2:-}
    inside_only "$plist"
    if [ ! -f "$SANDBOX_DIR$plist" ]; then
        echo "Bootstrap failed: 2: No such file or directory" >&2
        exit 2
    fi
    label=$(plist_label "$SANDBOX_DIR$plist")
    if launchd_loaded "$domain" "$label"; then
        # NOTE: what real launchctl says for a job that is already loaded.
        echo "Bootstrap failed: 5: Input/output error" >&2
        exit 5
    fi
    launchd_load "$domain" "$plist"
    ;;
bootout)
    target=${1:-}
    if [ $# -ge 2 ]; then # bootout DOMAIN PLIST
        domain=$target
        inside_only "$2"
        label=$(plist_label "$SANDBOX_DIR$2")
    else
        domain=${target%/*}
        label=${target##*/}
    fi
    if ! launchd_loaded "$domain" "$label"; then
        echo "Boot-out failed: 113: Could not find specified service" >&2
        exit 113
    fi
    launchd_unload "$domain" "$label"
    ;;
print)
    target=${1:-}
    domain=${target%/*}
    label=${target##*/}
    launchd_loaded "$domain" "$label" || not_found "$domain" "$label"
    cat <<PRINT
$target = {
	active count = 0
	path = $(cat "$S/launchd/$domain/$label")
	type = LaunchDaemon
	state = not running

	runs = 1
	last exit code = 0
}
PRINT
    ;;
kickstart)
    while [ $# -gt 1 ]; do shift; done
    target=${1:-}
    domain=${target%/*}
    label=${target##*/}
    launchd_loaded "$domain" "$label" || not_found "$domain" "$label"
    ;;
asuser)
    # NOTE: like macOS, `asuser UID` only enters the user's bootstrap namespace; it does not change
    # credentials (root stays root). Acting as the user takes `sudo -u USER` as well. The fake
    # dialogs look at SANDBOX_SESSION_UID to know which session they were started in.
    SANDBOX_SESSION_UID=${1:-}
    export SANDBOX_SESSION_UID
    [ $# -gt 0 ] && shift
    [ $# -gt 0 ] || {
        echo "Usage: launchctl asuser <uid> <command> [args...]" >&2
        exit 64
    }
    sandbox_exec "$@"
    ;;
esac
exit 0
