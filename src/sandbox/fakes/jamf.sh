# Fake /usr/local/jamf/bin/jamf.
usage() {
    cat <<'USAGE'
Usage: jamf verb [options]

	verb is one of the following:

	checkJSSConnection	 Checks the availability of the JSS
	help			 Prints this help
	policy			 Checks for policies on the JSS
	recon			 Runs Recon to update the inventory in the JSS
	removeFramework		 Removes the JAMF Binary and associated files from the computer.
	removeMdmProfile	 Removes the JAMF MDM Profile
	version			 Prints the version of this application

	jamf help <verb> will provide details on that verb
USAGE
}

offline() {
    echo "The JSS is not available."
    echo "Error: Could not connect to the server. ($(jss_url))" >&2
    exit 1
}

verb=${1:-}
[ $# -gt 0 ] && shift
case $verb in
checkJSSConnection)
    echo "Checking availability of $(jss_url)..."
    if flag jss-offline; then offline; fi
    echo "The JSS is available."
    ;;
removeMdmProfile)
    if ! flag mdm-profile; then
        echo "There is no MDM profile installed."
        exit 0
    fi
    echo "Removing MDM Profile..."
    if flag mdm-removal-disallowed; then
        # NOTE: like jamf on macOS 11+: the profile stays, the message says so, the exit code lies.
        echo "Error removing MDM profile: profiles: The profile \"MDM Profile\" (00000000-0000-0000-A000-4A414D460003) cannot be removed: removal is not allowed (removalDisallowed = TRUE)."
        echo "Removed MDM Profile."
        exit 0
    fi
    rm -f "$S/mdm-profile"
    enrollment_text no >"$S/enrollment"
    echo "Removed MDM Profile."
    ;;
removeFramework)
    echo "Removing the Jamf Pro management framework..."
    for label in com.jamfsoftware.task.1 com.jamfsoftware.jamf.daemon com.jamf.management.daemon; do
        launchd_unload system "$label"
    done
    for dom in "$S"/launchd/gui/*; do
        [ -d "$dom" ] || continue
        rm -f "$dom/com.jamf.management.agent" "$dom/com.jamfsoftware.jamf.agent"
    done
    R=$SANDBOX_DIR
    rm -f "$R/Library/LaunchDaemons/com.jamfsoftware.task.1.plist" \
        "$R/Library/LaunchDaemons/com.jamfsoftware.jamf.daemon.plist" \
        "$R/Library/LaunchDaemons/com.jamf.management.daemon.plist" \
        "$R/Library/LaunchAgents/com.jamf.management.agent.plist" \
        "$R/Library/LaunchAgents/com.jamfsoftware.jamf.agent.plist"
    echo "Removed LaunchDaemons and LaunchAgents."
    rm -f "$R/Library/Preferences/com.jamfsoftware.jamf.plist"
    echo "Removed /Library/Preferences/com.jamfsoftware.jamf.plist"
    rm -rf "$R/Library/Application Support/JAMF"
    echo "Removed /Library/Application Support/JAMF"
    rm -f "$R/usr/local/bin/jamf" "$R/usr/local/jamf/bin/jamfAAD"
    rm -rf "$R/usr/local/jamf"
    echo "Removed /usr/local/jamf/bin/jamf"
    echo "Removed the framework."
    ;;
recon)
    echo "Retrieving inventory preferences from $(jss_url)..."
    if flag jss-offline; then offline; fi
    echo "Locating accounts..."
    echo "Locating applications..."
    echo "Gathering application usage information..."
    echo "Submitting data to $(jss_url)..."
    echo "<computer_id>42</computer_id>"
    ;;
policy)
    if flag jss-offline; then
        echo "Checking for policies triggered by \"recurring check-in\"..."
        echo "Could not connect to the JSS. Looking for cached policies..."
        exit 52
    fi
    if [ "${1:-}" = -id ] && [ -n "${2:-}" ]; then
        echo "Checking for policy ID $2..."
        echo "Executing Policy $2"
        echo "Submitting log to $(jss_url)"
    else
        echo "Checking for policies triggered by \"recurring check-in\" for user \"$(console_name)\"..."
        echo "No policies were found for the \"recurring check-in\" trigger."
    fi
    ;;
version)
    echo "version=11.4.1-t1712591696"
    ;;
help)
    usage
    ;;
*)
    usage
    exit 1
    ;;
esac
exit 0
