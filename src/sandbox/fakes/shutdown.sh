# Fake /sbin/shutdown. Like Apple's (system_cmds shutdown.c), `shutdown -r +N` forks: the child
# calls setsid() and waits for the restart time holding the caller's stdout and stderr open, the
# parent prints the child's pid and exits 0. Here the restart is only written down
# ($S/pending-reboot) and the child is a shell waiting in its own session; `reenroll sandbox
# boot` performs the restart and ends it, `killall shutdown` / `pkill shutdown` cancel it. The
# child gives up after 30 seconds (a test of a caller that waits for it must fail, not hang),
# leaving the restart written down for `sandbox boot`.
if [ "${1:-}" = -r ] && [ -n "${2:-}" ]; then
    printf '%s\n' "$2" >"$S/pending-reboot"
    echo "Shutdown at $(date)."
    # NOTE: the child's command line ends with the marker and this sandbox's state folder: the
    # fake pgrep/pkill/killall and `sandbox boot` check it before signalling a recorded pid.
    sandbox_child='trap '\''kill "$p" 2>/dev/null; exit 0'\'' TERM HUP INT
sleep 30 & p=$!
wait "$p"'
    if command -v setsid >/dev/null 2>&1; then
        # NOTE: a background job of a non-interactive sh is never a process group leader, so
        # util-linux setsid execs in place (no fork) and $! is the child itself.
        setsid /bin/sh -c "$sandbox_child" reenroll-sandbox-shutdown "$S" </dev/null &
    else
        /bin/sh -c "$sandbox_child" reenroll-sandbox-shutdown "$S" </dev/null &
    fi
    printf '%s\n' "$!" >>"$S/shutdown-pids"
    echo "shutdown: [pid $!]" >&2
fi
exit 0
