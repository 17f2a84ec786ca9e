# Fake /usr/bin/app-sso: `platform -s` reflects psso-status (0 off, 1 enabled, 2 registered).
if [ "${1:-}" != platform ] || [ "${2:-}" != -s ]; then
    echo "Usage: app-sso platform -s" >&2
    exit 64
fi
case $(state psso-status) in
2) registered=true ;;
1) registered=false ;;
*)
    printf 'Device Configuration:\n (null)\n\nLogin Configuration:\n (null)\n\nUser Configuration:\n (null)\n'
    exit 0
    ;;
esac
cat <<SSO
Device Configuration:
 {
    extensionIdentifier = "com.microsoft.CompanyPortalMac.ssoextension";
    registrationCompleted = $registered;
}

Login Configuration:
 {
    loginType = "POLoginTypePassword (1)";
}

User Configuration:
 {
    state = "POUserStateNormal (0)";
    uniqueIdentifierClaim = "$(console_name)@contoso.com";
}
SSO
exit 0
