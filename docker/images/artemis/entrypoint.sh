#!/bin/sh
# Makes the broker instance (once), then runs it in the foreground.
set -eu
instance=/var/lib/artemis-instance/broker
if [ ! -x "$instance/bin/artemis" ]; then
  # EXTRA_ARGS is split into words on purpose: it is a list of options.
  # shellcheck disable=SC2086
  /opt/artemis/bin/artemis create "$instance" --silent --require-login \
    --user "${ARTEMIS_USER:-artemis}" --password "${ARTEMIS_PASSWORD:-artemis}" ${EXTRA_ARGS:-} >/dev/null
fi
exec "$instance/bin/artemis" run
