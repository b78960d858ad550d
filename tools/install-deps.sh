#!/usr/bin/env bash
# Installs the named Debian packages if any of them is missing; does nothing otherwise.
#   tools/install-deps.sh g++ cmake ninja-build
set -euo pipefail

if ! command -v dpkg-query >/dev/null; then
    echo "install-deps: not a Debian-based system; make sure these are installed: $*" >&2
    exit 0
fi

missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: missing ${missing[*]}; run as root or install them by hand" >&2
        exit 1
    fi
    as_root=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
