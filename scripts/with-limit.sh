#!/usr/bin/env bash
# with-limit.sh SECONDS COMMAND [ARGS...]
#
# Runs COMMAND. If it is still running after SECONDS, stops it and every process it started, then
# exits 124. Whatever COMMAND leaves running when it ends by itself is stopped too, and its exit
# status is passed on. CI runs each step through it, so that no step can run past its limit.
#
# "Every process it started" is found as src/dev/process-tree.ts finds it (this runs before
# node_modules exists, hence bash): the processes whose environment carries this run's tag
# (QFPAY_ENGINE_RUN_TAG=<tag> or <tag>/..., which children inherit), the members of their process
# groups, and everything descending from them, so that a detached server or an orphan is found
# too. SIGTERM first, SIGKILL 10 s later to what is left.
set -uo pipefail

limit="$1"
shift
tag="${QFPAY_ENGINE_RUN_TAG:+$QFPAY_ENGINE_RUN_TAG/}step-$$-$(date +%s%N)"
export QFPAY_ENGINE_RUN_TAG="$tag"
self=$$

# The pids of this run, except this script. Called in a subshell ($(run_pids)): the tag is unset
# there, so the commands that look (grep, ps, awk) are not found themselves.
run_pids() {
  unset QFPAY_ENGINE_RUN_TAG
  local tagged own
  tagged=$(grep -lsEz "^QFPAY_ENGINE_RUN_TAG=${tag}(/.*)?\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | tr '\n' ' ')
  own=$(ps -o pgid= -p "$self" | tr -d ' ')
  ps -e -o pid=,ppid=,pgid= | awk -v tagged="$tagged" -v self="$self" -v own="$own" '
    { pid[NR] = $1; ppid[NR] = $2; pgid[NR] = $3; live[$1] = 1; n = NR }
    END {
      split(tagged, t, " "); for (i in t) if (t[i] in live) found[t[i]] = 1
      # The members of their process groups (never the group this script runs in).
      for (i = 1; i <= n; i++) if ((pid[i] in found) && pgid[i] != own) group[pgid[i]] = 1
      for (i = 1; i <= n; i++) if (pgid[i] in group) found[pid[i]] = 1
      # Their descendants, to a fixed point.
      do {
        grew = 0
        for (i = 1; i <= n; i++) if (!(pid[i] in found) && (ppid[i] in found)) { found[pid[i]] = 1; grew = 1 }
      } while (grew)
      for (p in found) if (p != self && p + 0 > 1) print p
    }'
}

stop_run() {
  local pids
  pids=$(run_pids)
  [ -z "$pids" ] && return 0
  echo "[with-limit] stopping $(echo "$pids" | wc -l) process(es): $(ps -o comm= -p "$(echo "$pids" | paste -sd,)" 2>/dev/null | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')" >&2
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  for _ in $(seq 1 100); do
    [ -z "$(run_pids)" ] && return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $(run_pids) 2>/dev/null
  return 0
}

"$@" &
command_pid=$!
flag="$(mktemp)"
(
  # Not tagged, and in short sleeps: once the command ends, nothing of the watchdog outlives it long.
  unset QFPAY_ENGINE_RUN_TAG
  end=$((SECONDS + limit))
  while [ "$SECONDS" -lt "$end" ]; do sleep 1; done
  echo over >"$flag"
  echo "[with-limit] still running after its limit of ${limit} s: stopping it and everything it started" >&2
  stop_run
) &
watchdog=$!
wait "$command_pid"
status=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
stop_run
if [ -s "$flag" ]; then
  rm -f "$flag"
  exit 124
fi
rm -f "$flag"
exit "$status"
