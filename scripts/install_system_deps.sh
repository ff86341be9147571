#!/usr/bin/env bash
# System libraries the Python wheels need but do not ship: libusb for pyrealsense2 (and open3d).
# Installs them with apt-get when running as root on Debian/Ubuntu; otherwise says what is missing.
set -u
missing=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  (apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null)) ||
    echo "warning: could not install ${missing[*]}; the RealSense source and its tests will be skipped"
else
  echo "note: install ${missing[*]} (e.g. sudo apt-get install ${missing[*]}) for the RealSense source"
fi
exit 0
