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
    # The child tells its pid through a FIFO the parent waits on: by then it runs with its
    # final command line, so a `pgrep` right after `shutdown` exits finds it (Apple's child is
    # `shutdown` from the fork on), and the pid is its own even if setsid had to fork.
    sandbox_child='trap '\''kill "$p" 2>/dev/null; exit 0'\'' TERM HUP INT
echo "$$" >"$SANDBOX_SHUTDOWN_READY"
sleep 30 & p=$!
wait "$p"'
    SANDBOX_SHUTDOWN_READY=$S/shutdown-ready.$$
    rm -f "$SANDBOX_SHUTDOWN_READY"
    mkfifo "$SANDBOX_SHUTDOWN_READY" || exit 1
    export SANDBOX_SHUTDOWN_READY
    if command -v setsid >/dev/null 2>&1; then
        setsid /bin/sh -c "$sandbox_child" reenroll-sandbox-shutdown "$S" </dev/null &
    else
        /bin/sh -c "$sandbox_child" reenroll-sandbox-shutdown "$S" </dev/null &
    fi
    read -r sandbox_child_pid <"$SANDBOX_SHUTDOWN_READY"
    rm -f "$SANDBOX_SHUTDOWN_READY"
    printf '%s\n' "$sandbox_child_pid" >>"$S/shutdown-pids"
    echo "shutdown: [pid $sandbox_child_pid]" >&2
fi
exit 0
