# Fake /usr/bin/log: `log show --style ndjson [--last N[s|m|h|d]] [--predicate P] [--info]
# [--debug]` prints the entries planted in $S/unified-log.ndjson (each line
# `UNIX-SECONDS<TAB>{json}`, written by `sandbox --symptom`) that fall within --last, one JSON
# object a line in the fields of Apple's ndjson style (timestamp, messageType, eventType,
# eventMessage, subsystem, category, processImagePath, senderImagePath, processID, threadID),
# then the trailer `{"count":N,"finished":1}` as `log show` ends. The predicate is accepted but
# not evaluated: every planted entry is one of the subsystems reenroll asks for.
# With the flag $S/log-fails it fails as a damaged log store would.
verb=${1:-}
[ $# -gt 0 ] && shift
if [ "$verb" != show ]; then
    echo "log: unsupported verb in this sandbox: $verb (only show is faked)" >&2
    exit 64
fi
style=default
last=
while [ $# -gt 0 ]; do
    case $1 in
    --style)
        style=${2:-}
        shift 2
        ;;
    --last)
        last=${2:-}
        shift 2
        ;;
    --predicate)
        [ $# -ge 2 ] || {
            echo "log: --predicate needs a value" >&2
            exit 64
        }
        shift 2
        ;;
    --info | --debug | --signpost | --no-pager) shift ;;
    *)
        echo "log: unknown option $1" >&2
        exit 64
        ;;
    esac
done
if [ "$style" != ndjson ]; then
    echo "log: only --style ndjson is faked in this sandbox" >&2
    exit 64
fi
if flag log-fails; then
    echo "log: Could not open local log store: The operation couldn't be completed. (Operation not permitted)" >&2
    exit 1
fi
since=0
if [ -n "$last" ]; then
    n=${last%[smhd]}
    case $n in
    '' | *[!0-9]*)
        echo "log: invalid time interval: $last" >&2
        exit 64
        ;;
    esac
    case $last in
    *d) secs=$((n * 86400)) ;;
    *h) secs=$((n * 3600)) ;;
    *m) secs=$((n * 60)) ;;
    *) secs=$n ;;
    esac
    since=$(($(date +%s) - secs))
fi
count=0
if [ -f "$S/unified-log.ndjson" ]; then
    count=$(awk -F '\t' -v since="$since" '$1 >= since { n++ } END { print n + 0 }' "$S/unified-log.ndjson")
    awk -F '\t' -v since="$since" '$1 >= since { sub(/^[^\t]*\t/, ""); print }' "$S/unified-log.ndjson"
fi
printf '{"count":%s,"finished":1}\n' "$count"
exit 0
