# Fake /usr/sbin/scutil: --get NAME, or commands on stdin (show State:/Users/ConsoleUser).
console_dict() {
    name=$(console_name)
    uid=$(console_uid)
    if [ -z "$name" ]; then
        printf '<dictionary> {\n  Name : loginwindow\n  UID : 0\n}\n'
        return
    fi
    long=$(realname_of_user "$name")
    cat <<DICT
<dictionary> {
  GID : 20
  Name : $name
  SessionInfo : <array> {
    0 : <dictionary> {
      kCGSSessionAuditIDKey : 100008
      kCGSSessionGroupIDKey : 20
      kCGSSessionIDKey : 257
      kCGSSessionLoginwindowSafeLogin : FALSE
      kCGSSessionOnConsoleKey : TRUE
      kCGSSessionOrderingKey : 0
      kCGSSessionSystemSafeBoot : FALSE
      kCGSSessionUserIDKey : $uid
      kCGSSessionUserNameKey : $name
      kCGSessionLoginDoneKey : TRUE
      kCGSessionLongUserNameKey : ${long:-$name}
      kSCSecuritySessionID : 100008
    }
  }
  UID : $uid
}
DICT
}
if [ "${1:-}" = --get ]; then
    case ${2:-} in
    ComputerName) state computer-name; echo ;;
    LocalHostName) state computer-name | tr -cd 'A-Za-z0-9 -' | tr ' ' '-'; echo ;;
    *)
        echo "${2:-}: not set"
        exit 1
        ;;
    esac
    exit 0
fi
while IFS= read -r line; do
    case $line in
    "show State:/Users/ConsoleUser") console_dict ;;
    show\ *) echo "  No such key" ;;
    quit | exit) break ;;
    esac
done
exit 0
