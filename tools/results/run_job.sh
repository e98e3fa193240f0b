#!/usr/bin/env bash
# run_job.sh WORK NAME: one accuracy run of tools/results/run.sh, the command
# in WORK/jobs/NAME.sh; its stdout (one JSON object) goes to WORK/acc/NAME.json,
# its stderr to WORK/logs/NAME.log. Prints one line when it ends; a failed
# run leaves no JSON behind, so run.sh finds it missing.
work=$1 name=$2
if bash "$work/jobs/$name.sh" >"$work/acc/$name.json" 2>"$work/logs/$name.log"; then
  echo "  done   $name"
else
  echo "  FAILED $name (exit $?; log: $work/logs/$name.log)"
  rm -f "$work/acc/$name.json"
fi
