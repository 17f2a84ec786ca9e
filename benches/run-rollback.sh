#!/usr/bin/env bash
# Benchmark (not a test): `reenroll run` and `rollback` of a Company Portal folder holding many
# small files, beside `rm -rf` of an identical tree. Wall time and peak RSS of each command.
#
#   benches/run-rollback.sh            # 10 000 and 100 000 files, 3 repeats each
#   benches/run-rollback.sh 3 100000   # REPEATS, then the file counts (multiples of 1000)
#
# Needs bash >= 5 (EPOCHREALTIME) and a `time` that reports peak RSS: GNU /usr/bin/time
# (`-f %M`, KiB) or BSD /usr/bin/time (`-l`, bytes, macOS). Builds the release binary first.
# Everything happens in a temporary folder (a sandbox device, never the host's own paths).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${1:-3}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)

if [ -z "${EPOCHREALTIME:-}" ]; then
  echo "run-rollback.sh needs bash >= 5 (EPOCHREALTIME)" >&2
  exit 2
fi
if /usr/bin/time -f %M true >/dev/null 2>&1; then
  TIME_KIND=gnu
elif /usr/bin/time -l true >/dev/null 2>&1; then
  TIME_KIND=bsd
else
  echo "run-rollback.sh needs /usr/bin/time (GNU or BSD) to read peak RSS" >&2
  exit 2
fi

cargo build --release --quiet
BIN=$PWD/target/release/reenroll
PLAYBOOK=$PWD/benches/bench-remove-portal.toml
PORTAL="Users/alice/Library/Application Support/com.microsoft.CompanyPortalMac"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/reenroll-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Fill DIR with N small files in nested folders: N/1000 folders of 10 folders of 100 files, so
# every folder holds at most 100 entries whatever N is (peak RSS then shows whether memory grows
# with the number of files, not with the width of one folder).
fill() {
  local dir=$1 n=$2 a b f
  for ((a = 0; a < n / 1000; a++)); do
    for ((b = 0; b < 10; b++)); do
      mkdir -p "$dir/d$a/e$b"
      for ((f = 0; f < 100; f++)); do
        printf 'cache entry %d/%d/%d\n' "$a" "$b" "$f" >"$dir/d$a/e$b/f$f.json"
      done
    done
  done
}

# measure LABEL CMD...: runs CMD, appends "LABEL seconds peak_kib" to $WORK/results; fails the
# benchmark if CMD does (a run that did not remove the tree measures nothing).
measure() {
  local label=$1 start end rss
  shift
  start=$EPOCHREALTIME
  if [ "$TIME_KIND" = gnu ]; then
    /usr/bin/time -f %M -o "$WORK/rss" "$@" >"$WORK/out" 2>&1 || {
      cat "$WORK/out" >&2
      exit 1
    }
    end=$EPOCHREALTIME
    rss=$(tail -n 1 "$WORK/rss")
  else
    /usr/bin/time -l "$@" >"$WORK/out" 2>"$WORK/rss" || {
      cat "$WORK/out" "$WORK/rss" >&2
      exit 1
    }
    end=$EPOCHREALTIME
    rss=$(awk '/maximum resident set size/ { print int($1 / 1024) }' "$WORK/rss")
  fi
  echo "$label $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') $rss" >>"$WORK/results"
}

: >"$WORK/results"
for n in "${SIZES[@]}"; do
  echo "building a template tree of $n files..." >&2
  fill "$WORK/template-$n" "$n"
  for ((r = 1; r <= REPEATS; r++)); do
    dev="$WORK/dev-$n-$r"
    "$BIN" sandbox "$dev" >/dev/null
    rm -rf "${dev:?}/$PORTAL"
    cp -a "$WORK/template-$n" "$dev/$PORTAL"
    cp -a "$WORK/template-$n" "$WORK/rm-$n-$r"
    # Flush the copies so the first measured command does not pay for their writeback.
    sync
    echo "  $n files, repeat $r/$REPEATS" >&2
    measure "run $n" "$BIN" --root "$dev" run --yes "$PLAYBOOK"
    [ ! -e "$dev/$PORTAL" ] || { echo "run left $PORTAL in place" >&2; exit 1; }
    measure "rollback $n" "$BIN" --root "$dev" rollback --yes
    [ -e "$dev/$PORTAL/d0/e0/f0.json" ] || { echo "rollback did not restore $PORTAL" >&2; exit 1; }
    measure "rm-rf $n" rm -rf "$WORK/rm-$n-$r"
    rm -rf "$dev"
  done
  rm -rf "$WORK/template-$n"
done

# The table: median of the repeats (and the min-max range), then the ratios the targets name.
awk -v repeats="$REPEATS" '
  function median(key,   n, i, j, t, v) {
    n = cnt[key]
    for (i = 1; i <= n; i++) v[i] = val[key, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function lo(key,   i, m) { m = val[key, 1]; for (i = 2; i <= cnt[key]; i++) if (val[key, i] < m) m = val[key, i]; return m }
  function hi(key,   i, m) { m = val[key, 1]; for (i = 2; i <= cnt[key]; i++) if (val[key, i] > m) m = val[key, i]; return m }
  {
    k = $1 " " $2; if (!(k in cnt)) order[++nk] = k
    cnt[k]++; val[k, cnt[k]] = $3
    rk = k " rss"; cnt[rk]++; val[rk, cnt[rk]] = $4
    if (!($2 in seen)) { seen[$2] = 1; sizes[++ns] = $2 }
  }
  END {
    printf "%-10s %9s %10s %19s %14s\n", "command", "files", "median s", "min-max s", "peak RSS KiB"
    for (i = 1; i <= nk; i++) {
      k = order[i]; split(k, p, " ")
      printf "%-10s %9s %10.3f %9.3f-%-9.3f %14d\n", p[1], p[2], median(k), lo(k), hi(k), hi(k " rss")
    }
    print ""
    for (i = 1; i <= ns; i++) {
      n = sizes[i]
      printf "%s files: run / rm -rf = %.2f; rollback %.3f s; peak RSS run %d KiB, rollback %d KiB\n", \
        n, median("run " n) / median("rm-rf " n), median("rollback " n), hi("run " n " rss"), hi("rollback " n " rss")
    }
    if (ns >= 2) {
      a = sizes[1]; b = sizes[ns]
      printf "peak RSS %s vs %s files: run %.2fx, rollback %.2fx\n", b, a, \
        hi("run " b " rss") / hi("run " a " rss"), hi("rollback " b " rss") / hi("rollback " a " rss")
    }
    printf "(%d repeats; machine: %s)\n", repeats, machine
  }
' machine="$(nproc 2>/dev/null || sysctl -n hw.ncpu) cores, $(uname -sr)" "$WORK/results"
