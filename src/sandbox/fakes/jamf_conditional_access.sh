# Fake "Jamf Conditional Access" (also reached as /usr/local/jamf/bin/jamfAAD). Runs as the user:
# SANDBOX_USER_HOME (set by the sandbox's sudo) names whose preferences it touches.
user_home=${SANDBOX_USER_HOME:-}
if [ -z "$user_home" ]; then
    user_home=$(home_of_user "$(console_name)")
fi

cmd=${1:-help}
[ "$cmd" = -verbose ] && shift && cmd=${1:-help}
case $cmd in
clean)
    if [ -z "$user_home" ]; then
        echo "No user to clean: nobody is logged in and SANDBOX_USER_HOME is not set" >&2
        exit 1
    fi
    inside_only "$user_home"
    rm -f "$SANDBOX_DIR$user_home/Library/Preferences/com.jamf.management.jamfAAD.plist"
    echo "Cleaned Jamf Conditional Access data for this user."
    ;;
gatherAADInfo)
    if flag jss-offline; then
        echo "Unable to send AAD information to Jamf Pro: the server is not reachable." >&2
        exit 1
    fi
    echo "Gathering AAD information..."
    echo "AAD information sent to Jamf Pro."
    ;;
getPSSOStatus)
    status=$(state psso-status)
    echo "${status:-0}"
    ;;
registerWithIntune)
    echo "Launching Company Portal"
    ;;
version)
    echo "11.4.1"
    ;;
help)
    echo "Jamf Conditional Access collects device and user Microsoft Entra ID values and reports them to the Jamf Pro server."
    echo
    echo "Usage: Jamf Conditional Access [-verbose] <clean|gatherAADInfo|getPSSOStatus|registerWithIntune|version|help>"
    ;;
*)
    echo "Unknown command: $cmd" >&2
    exit 1
    ;;
esac
exit 0
