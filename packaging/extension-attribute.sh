#!/bin/sh
# Jamf Pro extension attribute (Data Type: String, Input Type: Script): the newest reenroll run as
# <result>STATE STEP DATE</result>, <result>none</result> when there was no run, and
# <result>not installed</result> on Macs without the com.github.reenroll package.
if [ -x /usr/local/bin/reenroll ]; then
  exec /usr/local/bin/reenroll status --jamf-ea
fi
echo "<result>not installed</result>"
