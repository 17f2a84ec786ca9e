# Fake /usr/bin/open: an enrollment URL stands for the user enrolling in the browser.
for a in "$@"; do
    case $a in
    */enroll | */enroll/ | */enroll\?*)
        if flag jss-offline; then
            echo "$SANDBOX_MAC0: $a: the server cannot be reached; the user could not enroll" >&2
            exit 0
        fi
        sandbox_restore_framework || exit 1
        ;;
    esac
done
exit 0
