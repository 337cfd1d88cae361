#!/bin/bash
# Installs what the test suite needs on a fresh machine, and nothing when it is already there:
# redis-server/redis-cli from Debian's packages, and a MongoDB engine through
# ../shared/mongod-kit (mongodb-memory-server-core cannot download mongod here).
# The test harness starts and stops the servers itself, on free ports on 127.0.0.1.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "ensure-services: installing redis-server from Debian's packages" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
# Debian's package starts a system redis on 6379; the tests never use it (they start their own).
if [ -z "${MONGOMS_SYSTEM_BINARY:-}" ] && [ -z "${MONGODB_URL:-}" ]; then
  KIT="$(cd "$(dirname "$0")/.." && pwd)/../shared/mongod-kit/setup"
  if [ -x "$KIT" ]; then
    "$KIT" | tail -1 > "$(dirname "$0")/../.mongod-binary"
  fi
fi
