#!/bin/sh
# The "command" adoption path of `onsim conformance`: a wrapper that hands the
# harness's environment to the clinic software under test.
#
#   onsim conformance --client "sh sim/conformance/vendor-wrapper.sh"
#
# onsim sets ONSIM_TERMINAL_DIR (req/, res/, face/), ONSIM_INSTITUTION_CODE,
# ONSIM_CONFIRMATION_DATE, ONSIM_TASKS (JSON), ONSIM_RESULTS (JSON lines to write),
# ONSIM_TIME_LIMIT_MS, ONSIM_ANSWER_TIMEOUT_MS, ONSIM_MAX_ATTEMPTS,
# ONSIM_RETRY_MIN_INTERVAL_MS and ONSIM_EXPECTED_FACE_FILES.
# Map them to your program's own settings here, then run it in its batch mode.
set -eu
: "${ONSIM_TERMINAL_DIR:?run me through onsim conformance}"
echo "vendor-wrapper: terminal folder $ONSIM_TERMINAL_DIR, institution $ONSIM_INSTITUTION_CODE"
# Replace with your program, e.g.:
#   exec /opt/clinic/bin/reception --link-folder "$ONSIM_TERMINAL_DIR" \
#        --batch "$ONSIM_TASKS" --report "$ONSIM_RESULTS"
exec ${VENDOR_CLIENT:?set VENDOR_CLIENT to the command of your clinic software}
