#!/usr/bin/env bash
# Debian packages Watchkeeper's tests and benchmarks run against: real Prometheus,
# VictoriaMetrics, Alertmanager and node_exporter, wrk for load tests, Chromium for the UI,
# podman (with runc) and debootstrap to build and run the container image offline, systemd
# (systemd-analyze) to verify the unit file.
# Idempotent; does nothing for packages already installed.
set -euo pipefail
PACKAGES=(prometheus victoria-metrics prometheus-alertmanager prometheus-node-exporter wrk chromium podman runc debootstrap systemd)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "installing Debian packages: ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
  || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
# Debian starts these as services where it can; the tests start their own instances.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter victoria-metrics; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
