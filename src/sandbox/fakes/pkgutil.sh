# Fake /usr/sbin/pkgutil over /var/db/receipts.
R=$SANDBOX_DIR/var/db/receipts
case ${2:-} in */*)
    echo "No receipt for '$2' found at '/'." >&2
    exit 1
    ;;
esac
case ${1:-} in
--pkgs)
    for f in "$R"/*.plist; do
        [ -f "$f" ] && basename "$f" .plist
    done
    ;;
--pkg-info)
    id=${2:-}
    if [ -z "$id" ] || [ ! -f "$R/$id.plist" ]; then
        echo "No receipt for '$id' found at '/'." >&2
        exit 1
    fi
    version=$(grep -A1 '<key>PackageVersion</key>' "$R/$id.plist" | sed -n 's/.*<string>\(.*\)<\/string>.*/\1/p')
    echo "package-id: $id"
    echo "version: ${version:-1.0}"
    echo "volume: /"
    echo "location: /"
    echo "install-time: 1709543565"
    ;;
--forget)
    id=${2:-}
    if [ -z "$id" ] || [ ! -f "$R/$id.plist" ]; then
        echo "No receipt for '$id' found at '/'." >&2
        exit 1
    fi
    rm -f "$R/$id.plist" "$R/$id.bom"
    echo "Forgot package '$id' on '/'."
    ;;
*)
    echo "Usage: pkgutil [--pkgs | --pkg-info ID | --forget ID]" >&2
    exit 1
    ;;
esac
exit 0
