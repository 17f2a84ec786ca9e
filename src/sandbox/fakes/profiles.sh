# Fake /usr/bin/profiles.
list_profiles() {
    if ! flag mdm-profile; then
        echo "There are no configuration profiles installed"
        return 0
    fi
    removal=FALSE
    if flag mdm-removal-disallowed; then removal=TRUE; fi
    p='_computerlevel[1]'
    cat <<LIST
$p attribute: name: MDM Profile
$p attribute: configurationDescription: MDM Profile
$p attribute: installationDate: 2024-03-04 09:12:45 +0000
$p attribute: organization: Contoso
$p attribute: profileIdentifier: 00000000-0000-0000-A000-4A414D460003
$p attribute: profileUUID: 00000000-0000-0000-A000-4A414D460003
$p attribute: profileType: Configuration
$p attribute: removalDisallowed: $removal
$p attribute: version: 1
$p attribute: containsComputerItems: TRUE
$p attribute: internaldata: TRUE
$p payload count = 3
$p            payload[1] JAMF Manual Enrollment Payload: MDM
$p            payload[2] com.jamfsoftware.mdm.certificate: MDM Identity
$p            payload[3] com.jamfsoftware.mdm.ca: Jamf Pro CA
There are 1 configuration profiles installed
LIST
}

has() { # whether the arguments contain $1
    want=$1
    shift
    for a in "$@"; do [ "$a" = "$want" ] && return 0; done
    return 1
}

# `show -type enrollment` and `renew -type enrollment` need root on a Mac (see acts_as_root for
# what stands for root in a sandbox not driven by root); the sample output
# (samples/profiles_show_enrollment.txt) is this one line on stderr. The exit status is not
# documented: 1 here, like profiles' other errors.
need_root() {
    if ! acts_as_root; then
        echo "Must be running as root" >&2
        exit 1
    fi
}

verb=${1:-}
case $verb in
status)
    if has enrollment "$@"; then
        state enrollment
    else
        echo "profiles: status needs -type enrollment" >&2
        exit 1
    fi
    ;;
list | -P | -C | -L)
    list_profiles
    ;;
show)
    if has enrollment "$@"; then
        need_root
        if ! flag ade; then
            echo "Error fetching Device Enrollment configuration: Client is not DEP enabled." >&2
            exit 1
        fi
        cat <<SHOW
Device Enrollment configuration:
{
    AllowPairing = 1;
    AwaitDeviceConfigured = 0;
    ConfigurationURL = "$(jss_url)cloudenroll";
    IsMDMUnremovable = 1;
    IsMandatory = 1;
    IsSupervised = 1;
    OrganizationName = "Contoso";
}
SHOW
    else
        list_profiles
    fi
    ;;
renew)
    if ! has enrollment "$@"; then
        echo "profiles: renew needs -type enrollment" >&2
        exit 1
    fi
    need_root
    if ! flag ade; then
        echo "Error renewing DEP enrollment configuration: Client is not DEP enabled." >&2
        exit 1
    fi
    if flag jss-offline; then
        echo "Error renewing DEP enrollment configuration: The MDM server could not be reached." >&2
        exit 1
    fi
    # The notification the user clicks is assumed clicked: the device enrolls again.
    sandbox_restore_framework || exit 1
    ;;
*)
    echo "Usage: profiles <status|list|show|renew> [-type enrollment|configuration]" >&2
    exit 1
    ;;
esac
exit 0
