# Fake /usr/bin/profiles.
#
# Managed network and trust profiles (`sandbox --managed-network`, the state file
# managed-profiles: wifi, ethernet, vpn, root-cert) are listed after the MDM profile while it is
# installed, and go with it, as profiles an MDM installed do. No real capture of their payload
# lines was found: they follow the verbose form `payload[N] type = TYPE` that `profiles -C -v`
# and `profiles show -type configuration` are reported to print ([verify] on a Mac); the
# attribute lines follow samples/profiles_list_jamf_mdm_profile.txt.

# One managed profile: index, name, identifier, then TYPE:DISPLAYNAME per payload.
managed_profile() {
    i=$1
    name=$2
    ident=$3
    shift 3
    q="_computerlevel[$i]"
    echo "$q attribute: name: $name"
    echo "$q attribute: configurationDescription: $name"
    echo "$q attribute: installationDate: 2024-03-04 09:14:02 +0000"
    echo "$q attribute: organization: Contoso"
    echo "$q attribute: profileIdentifier: $ident"
    echo "$q attribute: profileUUID: 5B2A1C3D-0000-4000-8000-00000000000$i"
    echo "$q attribute: profileType: Configuration"
    echo "$q attribute: removalDisallowed: TRUE"
    echo "$q attribute: version: 1"
    echo "$q attribute: containsComputerItems: TRUE"
    echo "$q payload count = $#"
    n=0
    for pl in "$@"; do
        n=$((n + 1))
        printf '%s      payload[%s] name\t= %s\n' "$q" "$n" "${pl#*:}"
        printf '%s      payload[%s] type\t= %s\n' "$q" "$n" "${pl%%:*}"
        printf '%s      payload[%s] organization\t= Contoso\n' "$q" "$n"
        printf '%s      payload[%s] identifier\t= %s.payload%s\n' "$q" "$n" "$ident" "$n"
    done
}

managed_profiles() { # prints the profiles; returns how many through $managed_count
    managed_count=0
    [ -f "$S/managed-profiles" ] || return 0
    while IFS= read -r kind; do
        i=$((managed_count + 2))
        case $kind in
        wifi)
            managed_profile "$i" "Contoso Wi-Fi" com.contoso.wifi \
                "com.apple.wifi.managed:Contoso Corp (802.1X)" "com.apple.security.scep:Wi-Fi identity"
            ;;
        ethernet)
            managed_profile "$i" "Contoso Wired 802.1X" com.contoso.ethernet \
                "com.apple.firstactiveethernet.managed:Wired 802.1X" "com.apple.security.pkcs12:Wired identity"
            ;;
        vpn)
            managed_profile "$i" "Contoso VPN" com.contoso.vpn "com.apple.vpn.managed:Contoso VPN"
            ;;
        root-cert)
            managed_profile "$i" "Contoso Root CA" com.contoso.rootca "com.apple.security.root:Contoso Root CA"
            ;;
        *) continue ;;
        esac
        managed_count=$((managed_count + 1))
    done <"$S/managed-profiles"
}

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
LIST
    managed_profiles
    echo "There are $((managed_count + 1)) configuration profiles installed"
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
