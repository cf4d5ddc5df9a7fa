#!/usr/bin/env bash
# Installs the Debian packages the suites drive (mosquitto clients and broker, nats-server for the loadtest's NATS peer and the NATS backend, chromium for test/browser, openssl for the TLS suite); no-op when present.
set -euo pipefail
need=()
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v mosquitto >/dev/null && [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/sbin/nats-server ] || need+=(nats-server) # the loadtest's third peer, and the NATS JetStream backend's tests and dev cluster (scripts/cluster-dev.ts, test/e2e/nats-*.test.ts)
[ -x /usr/bin/chromium ] || need+=(chromium) # driven by playwright-core at this path (test/helpers/browser.ts)
command -v openssl >/dev/null || need+=(openssl) # makes the self-signed certificate of test/e2e/tls.test.ts
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
