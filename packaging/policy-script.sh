#!/bin/sh
exec /usr/local/bin/reenroll jamf-policy "$@"
