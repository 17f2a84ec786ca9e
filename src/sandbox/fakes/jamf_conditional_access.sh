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
    # First line: 0 not enabled, 1 enabled not registered, 2 registered. Then, registered, the
    # broker's registration metadata as a Swift dictionary (format from public extension
    # attributes that parse it; exact spacing [verify]). The metadata is the user's: it comes
    # only to a caller running as a user (the sandbox's sudo -u sets SANDBOX_USER), never to root.
    status=$(state psso-status)
    status=${status:-0}
    echo "$status"
    device=$(state psso-device-id)
    if [ "$status" = 2 ] && [ -n "$device" ] && [ -n "${SANDBOX_USER:-}" ]; then
        printf 'extraDeviceInformation [AnyHashable("isSSOExtensionInFullMode"): 1, AnyHashable("primary_registration_metadata_upn"): "%s@contoso.com", AnyHashable("primary_registration_metadata_cloud_host"): "login.microsoftonline.com", AnyHashable("primary_registration_metadata_device_id"): "%s", AnyHashable("primary_registration_metadata_tenant_id"): "%s"]\n' \
            "$SANDBOX_USER" "$device" "$(state psso-tenant-id)"
    fi
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
