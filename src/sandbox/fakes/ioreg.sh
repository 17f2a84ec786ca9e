# Fake /usr/sbin/ioreg: the platform expert device only.
case "$*" in
*IOPlatformExpertDevice*)
    cat <<IOREG
+-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x100000204, registered, matched, active, busy 0 (53 ms), retain 39>
  {
    "IOPlatformSerialNumber" = "$(state serial)"
    "IOPlatformUUID" = "$(state platform-uuid)"
    "manufacturer" = <"Apple Inc.">
    "model" = <"MacBookPro18,3">
  }
IOREG
    ;;
esac
exit 0
