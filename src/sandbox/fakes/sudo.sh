# Fake /usr/bin/sudo: `sudo -u USER CMD ARGS...` runs CMD with SANDBOX_USER_HOME set to USER's home.
user=
while [ $# -gt 0 ]; do
    case $1 in
    -u)
        if [ $# -lt 2 ]; then
            echo "sudo: option requires an argument -- u" >&2
            exit 1
        fi
        user=$2
        shift 2
        ;;
    --)
        shift
        break
        ;;
    -*) shift ;;
    *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    echo "usage: sudo -u user command [args...]" >&2
    exit 1
fi
if [ -n "$user" ]; then
    home=$(home_of_user "$user")
    if [ -z "$home" ]; then
        echo "sudo: unknown user $user" >&2
        exit 1
    fi
    SANDBOX_USER=$user
    SANDBOX_USER_HOME=$home
    export SANDBOX_USER SANDBOX_USER_HOME
fi
sandbox_exec "$@"
