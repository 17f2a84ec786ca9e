# Fake /sbin/shutdown: a restart is only written down; `reenroll sandbox boot` performs it.
if [ "${1:-}" = -r ] && [ -n "${2:-}" ]; then
    printf '%s\n' "$2" >"$S/pending-reboot"
    echo "Shutdown at $(date)."
    echo "shutdown: [pid $$]"
fi
exit 0
