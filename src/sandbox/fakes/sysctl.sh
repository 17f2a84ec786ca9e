# Fake /usr/sbin/sysctl: only the boot session id.
case "${1:-} ${2:-}" in
"-n kern.bootsessionuuid") state boot-session-uuid ;;
"kern.bootsessionuuid "*) echo "kern.bootsessionuuid: $(state boot-session-uuid)" ;;
*)
    echo "sysctl: unknown oid '$*'" >&2
    exit 1
    ;;
esac
exit 0
