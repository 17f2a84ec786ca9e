#!/usr/bin/env bash
# Benchmark (not a test): what `reenroll plan` pays for a huge folder it would remove, against
# `du -s` of the same files. The marginal cost is plan on a device whose Company Portal data
# folder holds N files minus plan on a normal device; the goal is at or under 1.0x `du -s`.
#
#   benches/plan-large-tree.sh              # 100 000 files, 5 repeats
#   benches/plan-large-tree.sh 7 100000     # REPEATS, then file counts (multiples of 1000)
#   REENROLL_BIN=/path/to/reenroll benches/plan-large-tree.sh   # measure another build
#
# Reports wall time and CPU time (user + system, the command's children included: steadier than
# wall time on a shared machine). Needs GNU /usr/bin/time (-f). Builds the release binary first
# (unless REENROLL_BIN).
# Everything happens in a temporary folder (sandbox devices, never the host's own paths).
# Each measurement is taken warm (the tree in the page cache: one untimed pass of each command
# first), and the commands take turns within a repeat so a load on the machine falls on all.
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${1:-5}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000)

if ! /usr/bin/time -f %e true >/dev/null 2>&1; then
  echo "plan-large-tree.sh needs GNU /usr/bin/time (-f)" >&2
  exit 2
fi

if [ -z "${REENROLL_BIN:-}" ]; then
  cargo build --release --locked --quiet
fi
BIN=${REENROLL_BIN:-$PWD/target/release/reenroll}
PORTAL="Users/alice/Library/Application Support/com.microsoft.CompanyPortalMac"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/reenroll-bench-plan.XXXXXX")
# The fake `sudo -u USER` drops to the user's uid: the keychain helper must be able to cross
# the folders above the device (mktemp makes 0700 ones).
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

# Fill DIR with N small files: N/1000 folders of 10 folders of 100 files (as run-rollback.sh).
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

# seconds CMD...: "WALL CPU" seconds of CMD (its output discarded); fails the benchmark if CMD
# does.
seconds() {
  /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || {
    cat "$WORK/err" >&2
    exit 1
  }
  awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$WORK/time"
}

normal=$WORK/normal
"$BIN" sandbox "$normal" >/dev/null
: >"$WORK/results"
for n in "${SIZES[@]}"; do
  echo "building a device with $n files in alice's Company Portal folder..." >&2
  big=$WORK/big-$n
  "$BIN" sandbox "$big" >/dev/null
  fill "$big/$PORTAL" "$n"
  # The plan must see the files (and say how much it would remove): `--full` names alice's
  # folder on a line of its own (the default groups the homes).
  "$BIN" --root "$big" plan --full >"$WORK/plan-$n"
  grep -q "alice/Library/Application Support/com.microsoft.CompanyPortalMac (.*[KMG]iB" "$WORK/plan-$n" || {
    echo "the plan does not show the folder's size:" >&2
    grep CompanyPortalMac "$WORK/plan-$n" >&2
    exit 1
  }
  # Warm the page cache for all three.
  "$BIN" --root "$normal" plan >/dev/null
  du -s "$big/$PORTAL" >/dev/null
  for ((r = 1; r <= REPEATS; r++)); do
    echo "  $n files, repeat $r/$REPEATS" >&2
    echo "plan-normal $n $(seconds "$BIN" --root "$normal" plan)" >>"$WORK/results"
    echo "plan-big $n $(seconds "$BIN" --root "$big" plan)" >>"$WORK/results"
    echo "du $n $(seconds du -s "$big/$PORTAL")" >>"$WORK/results"
  done
  rm -rf "$big"
done

awk -v repeats="$REPEATS" -v machine="$(nproc 2>/dev/null || sysctl -n hw.ncpu) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" '
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
    c = "cpu " k; cnt[c]++; val[c, cnt[c]] = $4
    if (!($2 in seen)) { seen[$2] = 1; sizes[++ns] = $2 }
  }
  END {
    printf "%-12s %9s %10s %15s %12s %15s\n", "command", "files", "median s", "min-max s", "median CPU s", "min-max CPU s"
    for (i = 1; i <= nk; i++) {
      k = order[i]; split(k, p, " ")
      printf "%-12s %9s %10.3f %7.3f-%-7.3f %12.3f %7.3f-%-7.3f\n", p[1], p[2], median(k), lo(k), hi(k), \
        median("cpu " k), lo("cpu " k), hi("cpu " k)
    }
    print ""
    for (i = 1; i <= ns; i++) {
      n = sizes[i]
      m = median("plan-big " n) - median("plan-normal " n)
      mc = median("cpu plan-big " n) - median("cpu plan-normal " n)
      printf "%s files, wall: marginal plan %.3f s (%.3f - %.3f), du -s %.3f s: %.2fx\n", \
        n, m, median("plan-big " n), median("plan-normal " n), median("du " n), m / median("du " n)
      printf "%s files, CPU:  marginal plan %.3f s (%.3f - %.3f), du -s %.3f s: %.2fx (goal <= 1.0x)\n", \
        n, mc, median("cpu plan-big " n), median("cpu plan-normal " n), median("cpu du " n), \
        (median("cpu du " n) > 0) ? mc / median("cpu du " n) : 0
    }
    printf "(%d repeats, medians; machine: %s)\n", repeats, machine
  }
' "$WORK/results"
