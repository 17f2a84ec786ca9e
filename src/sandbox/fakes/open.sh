# Fake /usr/bin/open: an enrollment URL stands for the user enrolling in the browser. Opened as a
# user (`sudo -u USER open URL`), it only asks: the user cannot write the system's files, and on a
# Mac it is root's daemons that install the MDM profile. The request waits in $S/spool until
# sandbox_system_events (run by the sudo that ran this, or right here when we may write the
# device's state) carries it out.
for a in "$@"; do
    case $a in
    */enroll | */enroll/ | */enroll\?*)
        if flag jss-offline; then
            echo "$SANDBOX_MAC0: $a: the server cannot be reached; the user could not enroll" >&2
            exit 0
        fi
        mkdir -p "$S/spool" 2>/dev/null
        : >"$S/spool/enroll" || {
            echo "$SANDBOX_MAC0: $a: cannot leave the enrollment request in $S/spool" >&2
            exit 1
        }
        sandbox_system_events || exit 1
        ;;
    esac
done
exit 0
