# Fake /usr/bin/pkill and /usr/bin/killall: the sandbox runs no processes, so nothing matches.
exit 1
