#!/usr/bin/env bash
# Installs the Debian packages in packages.txt that are missing (and nothing
# if all are there), so `make demo` works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for package in $(cat packages.txt); do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "vmlab: installing ${missing[*]}"
sudo_prefix=""
[ "$(id -u)" = 0 ] || sudo_prefix="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_prefix apt-get update
$sudo_prefix apt-get install -y --no-install-recommends "${missing[@]}"
