#!/usr/bin/env bash
# Installs the Debian packages kerasrt needs to build and test; does nothing when all are present.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config clang zlib1g-dev libhdf5-dev libzip-dev nlohmann-json3-dev libcli11-dev
          libgtest-dev python3-numpy python3-jsonschema)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
