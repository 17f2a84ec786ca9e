# Fake /usr/bin/pgrep, /usr/bin/pkill and /usr/bin/killall. The sandbox runs one kind of process
# of its own: the child a fake `shutdown -r +N` leaves waiting for the restart (its pids in
# $S/shutdown-pids). `shutdown` finds those while they live; every other name finds no process
# (exit 1), as on a Mac where it is not running. Killing `shutdown` cancels the pending restart.
sandbox_tool=$(basename "$0")
sandbox_exact=no
sandbox_full=no
sandbox_list=no
sandbox_dry=no
sandbox_regex=no
while [ $# -gt 0 ]; do
    case $1 in
    --)
        shift
        break
        ;;
    -[uUgGPtFcT])
        # options with a value: not modelled
        shift
        ;;
    -[!-]*)
        case $1 in -*x*) sandbox_exact=yes ;; esac
        case $1 in -*f*) sandbox_full=yes ;; esac
        case $sandbox_tool:$1 in
        pgrep:-*l*) sandbox_list=yes ;;
        killall:-s) sandbox_dry=yes ;;
        killall:-m) sandbox_regex=yes ;;
        esac
        ;;
    *) break ;;
    esac
    shift
done
sandbox_pattern=${1:-}
if [ -z "$sandbox_pattern" ]; then
    echo "usage: $sandbox_tool [options] pattern" >&2
    exit 2
fi

# Whether PID is a child this sandbox's fake shutdown left. Pids get reused, so a recorded pid
# counts only while its command line ends with the marker and this sandbox's state folder
# (`sh -c SCRIPT reenroll-sandbox-shutdown $S`); nothing else is ever signalled.
sandbox_is_shutdown_child() {
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    if [ -d /proc/self ]; then
        # NUL-separated; a zombie's is empty.
        sandbox_args=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null) || return 1
        sandbox_tail="
reenroll-sandbox-shutdown
$S"
    else
        sandbox_args=$(ps -ww -o args= -p "$1" 2>/dev/null) || return 1
        sandbox_tail=" reenroll-sandbox-shutdown $S"
    fi
    case $sandbox_args in *"$sandbox_tail") return 0 ;; esac
    return 1
}

# End one such child: SIGTERM to its session's process group (it called setsid) or to it alone,
# then wait until it is gone, so whoever asks next finds no `shutdown`.
sandbox_end_shutdown_child() {
    kill -TERM "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
    sandbox_waited=0
    while sandbox_is_shutdown_child "$1"; do
        sandbox_waited=$((sandbox_waited + 1))
        if [ "$sandbox_waited" -gt 200 ]; then
            kill -KILL "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null
            break
        fi
        sleep 0.05 2>/dev/null || sleep 1
    done
}

# Whether the pattern names `shutdown` the way this tool matches names.
sandbox_names_shutdown() {
    sandbox_name=shutdown
    if [ "$sandbox_full" = yes ]; then
        sandbox_name="/sbin/shutdown -r $(state pending-reboot)"
    fi
    case $sandbox_tool in
    killall)
        if [ "$sandbox_regex" = yes ]; then
            printf '%s\n' "$sandbox_name" | grep -Eq -- "$sandbox_pattern"
        else
            [ "$sandbox_pattern" = shutdown ]
        fi
        ;;
    *)
        if [ "$sandbox_exact" = yes ]; then
            printf '%s\n' "$sandbox_name" | grep -Exq -- "$sandbox_pattern"
        else
            printf '%s\n' "$sandbox_name" | grep -Eq -- "$sandbox_pattern"
        fi
        ;;
    esac
}

# The recorded shutdown children still alive, one pid a line.
sandbox_live=
if sandbox_names_shutdown && [ -f "$S/shutdown-pids" ]; then
    for sandbox_pid in $(cat "$S/shutdown-pids"); do
        if sandbox_is_shutdown_child "$sandbox_pid"; then
            sandbox_live="$sandbox_live $sandbox_pid"
        fi
    done
fi
if [ -z "$sandbox_live" ]; then
    if [ "$sandbox_tool" = killall ]; then
        echo "No matching processes belonging to you were found" >&2
    fi
    exit 1
fi
case $sandbox_tool in
pgrep)
    for sandbox_pid in $sandbox_live; do
        if [ "$sandbox_list" = yes ]; then
            echo "$sandbox_pid shutdown"
        else
            echo "$sandbox_pid"
        fi
    done
    ;;
*)
    if [ "$sandbox_dry" = yes ]; then
        for sandbox_pid in $sandbox_live; do echo "kill -TERM $sandbox_pid"; done
        exit 0
    fi
    for sandbox_pid in $sandbox_live; do
        sandbox_end_shutdown_child "$sandbox_pid"
    done
    # The restart it was waiting for will not happen.
    rm -f "$S/shutdown-pids" "$S/pending-reboot"
    ;;
esac
exit 0
