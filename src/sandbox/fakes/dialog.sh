# Fake swiftDialog (/usr/local/bin/dialog) and osascript (/usr/bin/osascript): what a user at the
# console would answer comes from $S/dialog-answers, one line per dialog shown, in order (the
# Nth dialog takes line N; past the end, or without the file, the user clicks button 1):
#   button1 | button2 | timeout | quit | focus | fail
# Every dialog shown is recorded in /var/log/sandbox-dialogs.log (0666: osascript runs as the
# user): `PROGRAM<TAB>uid=UID<TAB>user=WHO<TAB>ANSWER<TAB>ARGS`.
#
# Like macOS, neither shows anything outside the console user's GUI session: the session is
# entered with `launchctl asuser UID` (the fake sets SANDBOX_SESSION_UID), and UID must be the
# console user's. osascript's `display dialog` must also run as that user (`sudo -u USER`): run
# as root it is refused with "No user interaction allowed" ([verify] whether root in the
# session is refused on every macOS version; reenroll never relies on it).
prog=$(basename "$0")
dialogs=$SANDBOX_DIR/var/log/sandbox-dialogs.log
session_uid=$(console_uid)
who=${SANDBOX_USER:-root}

no_session() {
    if [ "$prog" = osascript ]; then
        echo "0:0: execution error: No user interaction allowed. (-1713)" >&2
    else
        # NOTE: the words are the fake's own: swiftDialog without a window server fails to
        # start (a Mac must confirm what it prints).
        echo "dialog: no GUI session for uid $(id -u) (run it with launchctl asuser UID)" >&2
    fi
    exit 1
}
if [ -z "$session_uid" ] || [ "${SANDBOX_SESSION_UID:-}" != "$session_uid" ]; then
    no_session
fi
if [ "$prog" = osascript ] && [ "$who" != "$(console_name)" ]; then
    no_session
fi

shown=0
if [ -f "$dialogs" ]; then shown=$(wc -l <"$dialogs" | tr -d ' '); fi
answer=
if [ -f "$S/dialog-answers" ]; then
    answer=$(sed -n "$((shown + 1))p" "$S/dialog-answers" | tr -d '[:space:]')
fi
answer=${answer:-button1}
# One dialog, one line, even when its text holds newlines.
printf '%s\tuid=%s\tuser=%s\t%s\t%s' "$prog" "$SANDBOX_SESSION_UID" "$who" "$answer" "$*" | tr '\n' ' ' >>"$dialogs"
printf '\n' >>"$dialogs"

if [ "$prog" = dialog ]; then
    case $answer in
    button1) exit 0 ;;
    button2) exit 2 ;;
    timeout) exit 4 ;;
    quit) exit 10 ;;
    focus) exit 20 ;;
    *)
        echo "dialog: failed ($answer)" >&2
        exit 1
        ;;
    esac
fi

# osascript -e SCRIPT: only `display dialog … buttons {…}` is modelled.
[ "${1:-}" = "-e" ] || {
    echo "osascript: the sandbox only models -e 'display dialog …'" >&2
    exit 1
}
script=$2
case $script in
"display dialog "*) ;;
*)
    echo "0:0: execution error: the sandbox only models display dialog (-2700)" >&2
    exit 1
    ;;
esac
buttons=$(printf '%s\n' "$script" | sed -n 's/.* buttons {\([^}]*\)}.*/\1/p')
# The default button is the last one; a second-to-last one is the other choice.
last=$(printf '%s\n' "$buttons" | awk -F'"' '{ print $(NF - 1) }')
other=$(printf '%s\n' "$buttons" | awk -F'"' 'NF >= 5 { print $(NF - 3) }')
case $answer in
button1) echo "button returned:$last, gave up:false" ;;
button2)
    if [ -z "$other" ]; then
        echo "button returned:$last, gave up:false"
    else
        echo "button returned:$other, gave up:false"
    fi
    ;;
# AppleScript has no Focus mode answer: the dialog stays until it gives up.
timeout | focus) echo "button returned:, gave up:true" ;;
quit)
    echo "0:0: execution error: User canceled. (-128)" >&2
    exit 1
    ;;
*)
    echo "0:0: execution error: An error of type -10810 has occurred. (-10810)" >&2
    exit 1
    ;;
esac
exit 0
