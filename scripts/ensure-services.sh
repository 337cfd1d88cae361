#!/bin/bash
# Installs what the test suite needs on a fresh machine, and nothing when it is already there:
# redis-server/redis-cli from Debian's packages, and a MongoDB engine through
# ../shared/mongod-kit (mongodb-memory-server-core cannot download mongod here).
# The test harness starts and stops the servers itself, on free ports on 127.0.0.1.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
APT_UPDATED=false
apt_install() {
  if [ "$APT_UPDATED" = false ]; then $SUDO apt-get update -qq; APT_UPDATED=true; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "ensure-services: installing redis-server from Debian's packages" >&2
  apt_install redis-server
fi
# The network fault test (test/multi-netfault.test.ts): a network namespace and a veth pair
# (iproute2), packet drops (nftables) and delays (an NFQUEUE rule: iptables) where the kernel
# has no sch_netem. Only as root: the test needs root to build them anyway.
if [ "$(id -u)" = 0 ] && { ! command -v ip >/dev/null || ! command -v tc >/dev/null || ! command -v nft >/dev/null || ! command -v iptables >/dev/null; }; then
  echo "ensure-services: installing iproute2, nftables and iptables from Debian's packages" >&2
  apt_install iproute2 nftables iptables
fi
# Debian's package starts a system redis on 6379; the tests never use it (they start their own).
if [ -z "${MONGOMS_SYSTEM_BINARY:-}" ] && [ -z "${MONGODB_URL:-}" ]; then
  KIT="$(cd "$(dirname "$0")/.." && pwd)/../shared/mongod-kit/setup"
  if [ -x "$KIT" ]; then
    "$KIT" | tail -1 > "$(dirname "$0")/../.mongod-binary"
  fi
fi
