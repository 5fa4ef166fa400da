#!/usr/bin/env bash
# Tell a person that a harness unit failed: run by harness-notify@.service (OnFailure= of harness-reassess.service)
# with the failed unit's name. A failed re-assessment is news someone must act on (policy 4.3): exit 1 means a
# FAIL suspended an approval and closed its gate.
#
# HARNESS_NOTIFY_COMMAND (from /etc/harness/notify.env) is run by bash with the message on its standard input and
# HARNESS_FAILED_UNIT, HARNESS_NOTIFY_SUBJECT in its environment, e.g.
#   HARNESS_NOTIFY_COMMAND='mail -s "$HARNESS_NOTIFY_SUBJECT" dti-ai-governance@example.gov'
#   HARNESS_NOTIFY_COMMAND='curl -fsS --data-binary @- https://chat.example.gov/hooks/ai-governance'
# Unset, the message goes to the system log (logger, priority user.err).
set -euo pipefail

unit=${1:?usage: notify.sh FAILED-UNIT}
status=$(systemctl show --property=ExecMainStatus --value "$unit" 2>/dev/null || true)
case $status in
    1) meaning="a re-assessment FAILED: its approval was suspended and the deployment gate is closed" ;;
    2) meaning="bad usage or configuration: nothing was re-assessed" ;;
    3) meaning="a re-assessment needs review (NEEDS_REVIEW)" ;;
    4) meaning="a re-assessment could not complete (ERROR); the others ran" ;;
    *) meaning="the unit failed${status:+ with exit status $status}" ;;
esac
subject="harness: $unit failed on $(hostname): $meaning"
log=$(journalctl --unit="$unit" --lines=40 --no-pager --output=short-iso 2>/dev/null || true)
message="$subject

What to do: read the reports under /var/lib/harness/reports and run \`harness status TOOL\` for the tools named below.
Full log: journalctl -u $unit

${log:-(no journal access: run journalctl -u $unit)}"

export HARNESS_FAILED_UNIT=$unit HARNESS_NOTIFY_SUBJECT=$subject
if [ -n "${HARNESS_NOTIFY_COMMAND:-}" ]; then
    printf '%s\n' "$message" | bash -c "$HARNESS_NOTIFY_COMMAND"
else
    logger --tag harness-notify --priority user.err -- "$subject; see journalctl -u $unit"
fi
