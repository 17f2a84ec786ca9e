#!/usr/bin/env bash
# Benchmark (not a test): `reenroll diagnose` over a large /var/log/jamf.log on a sandbox device.
# Wall time and peak RSS (GNU `/usr/bin/time -v`).
#
#   benches/diagnose-jamf-log.sh            # 500 MB, 3 repeats
#   benches/diagnose-jamf-log.sh 5 100 500  # REPEATS, then sizes in MB
#   BENCH_NAMES=one-word benches/...         # every line names `sandbox-mac` (what a parser
#                                            # that expects a one-word name can read)
#
# The log is written in jamf.log's real format (`Mon Nov 20 10:15:32 NAME jamf[PID]: message`,
# local time, no year), with computer names as real Macs carry them: spaces, straight and curly
# apostrophes, parentheses, non-ASCII (`Alice's MacBook Pro`, `m3ir’s MacBook Pro`,
# `MacBook Air (2)`, `Zoë’s Mac`), script output between the stamped lines: successful check-ins
# until 3 days ago, failing ones since (so diagnose reads the whole file and must report P1,
# "no successful check-in for 3 days", with the failures counted).
# Everything happens in a temporary folder (a sandbox device, never the host's own paths).
# Needs perl (to write the log) and GNU time; builds the release binary first.
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${1:-3}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(500)

if ! /usr/bin/time -v true >/dev/null 2>&1; then
  echo "diagnose-jamf-log.sh needs GNU /usr/bin/time (-v) to read peak RSS" >&2
  exit 2
fi

# REENROLL_BIN=PATH measures another build (an older commit's, for a comparison) instead.
if [ -z "${REENROLL_BIN:-}" ]; then
  cargo build --release --quiet
fi
BIN=${REENROLL_BIN:-$PWD/target/release/reenroll}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/reenroll-bench-diag.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# write_log FILE MB: about MB megabytes of jamf.log, ending a minute ago.
write_log() {
  perl -CSD -e '
    use strict; use warnings; use POSIX qw(strftime);
    my ($file, $mb) = @ARGV;
    open(my $out, ">:encoding(UTF-8)", $file) or die "$file: $!";
    my @names = ("Alice\x27s MacBook Pro", "m3ir\x{2019}s MacBook Pro", "MacBook Air (2)",
                 "Zo\x{eb}\x{2019}s Mac");
    @names = ("sandbox-mac") if ($ENV{BENCH_NAMES} // "") eq "one-word";
    my @failing = (
      "Checking for policies triggered by \"recurring check-in\" for user \"alice\"...",
      "Could not connect to the JSS. Looking for cached policies...",
      "Executing Offline Policy Update Inventory",
    );
    my @block = (
      "Checking for policies triggered by \"recurring check-in\" for user \"alice\"...",
      "Checking for patches...",
      "No patch policies were found.",
      "Executing Policy Update Inventory",
      undef,
      "Submitting log to https://example.jamfcloud.com/",
      "Removing existing launchd task /Library/LaunchDaemons/com.jamfsoftware.task.1.plist...",
    );
    my $bytes = $mb * 1024 * 1024;
    # About 100 bytes a line: the number of lines, spread over the time before an hour ago.
    my $lines = int($bytes / 100);
    my $end = time() - 60;
    my $fail_from = time() - 3 * 86400;
    my $step = 0.5;
    my $t = $end - $lines * $step;
    my ($written, $i, $pid) = (0, 0, 4000);
    while ($written < $bytes) {
      my @msgs = $t >= $fail_from ? @failing : @block;
      my $k = $i % @msgs;
      $pid++ if $k == 0;
      my $name = $names[int($i / 5000) % @names];
      my $line;
      if (defined $msgs[$k]) {
        $line = strftime("%a %b %d %H:%M:%S", localtime(int $t)) . " $name jamf[$pid]: $msgs[$k]\n";
      } else {
        $line = "Script result: (none)\n";
      }
      print $out $line;
      $written += length($line);
      $t += $step;
      $i++;
    }
    close($out) or die "$file: $!";
  ' "$1" "$2"
}

results=$WORK/results
: >"$results"
for mb in "${SIZES[@]}"; do
  dev=$WORK/dev-$mb
  "$BIN" sandbox "$dev" --symptom healthy >/dev/null
  rm -f "$dev"/var/log/jamf.log*
  write_log "$dev/var/log/jamf.log" "$mb"
  actual=$(du -m "$dev/var/log/jamf.log" | cut -f1)
  for ((r = 0; r < REPEATS; r++)); do
    code=0
    /usr/bin/time -v -o "$WORK/time" "$BIN" --root "$dev" diagnose --json >"$WORK/out" 2>"$WORK/err" || code=$?
    if [ "$code" != 0 ] && [ "$code" != 5 ]; then
      cat "$WORK/err" >&2
      exit 1
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$WORK/time")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time")
    # CPU seconds (user + system): steadier than wall time on a shared machine.
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$WORK/time")
    # `unparsed_lines[0].count` and whether P1 was reported (the JSON is pretty-printed).
    unparsed=$(grep -A3 '"unparsed_lines"' "$WORK/out" | grep -o '"count": *[0-9]*' | head -n 1 | grep -o '[0-9]*$' || true)
    p1=$(grep -c '"id": *"P1"' "$WORK/out" || true)
    echo "$actual $wall $rss ${unparsed:-0} $p1 $cpu" >>"$results"
  done
done

printf '%-6s %-9s %-13s %-10s %-13s %s\n' "MB" "median s" "min-max s" "median CPU" "peak RSS KiB" "unparsed lines, P1 found"
for mb in $(cut -d' ' -f1 "$results" | sort -un); do
  awk -v mb="$mb" '$1 == mb' "$results" | sort -k2,2n | awk '
    { t[NR] = $2; r[NR] = $3; u = $4; p = $5; c[NR] = $6 }
    END {
      m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      maxr = 0; for (i = 1; i <= NR; i++) if (r[i] > maxr) maxr = r[i]
      n = asort_c(c, NR)
      cm = (NR % 2) ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2
      printf "%-6s %-9.2f %-13s %-10.2f %-13s %s, %s\n", $1, m, t[1] "-" t[NR], cm, maxr, u, p
    }
    function asort_c(a, n,   i, j, x) {
      for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return n
    }'
done
