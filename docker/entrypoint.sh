#!/usr/bin/env bash
# Entry point of the robot images: source ROS and the workspace, then run the command.
set -eo pipefail
if [[ -z "${ROS_DISTRO:-}" || ! -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]]; then
  echo "entrypoint: no ROS install for ROS_DISTRO='${ROS_DISTRO:-}' under /opt/ros" >&2
  exit 1
fi
# setup.bash reads unset variables, so no `set -u` before it.
# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source /ws/install/setup.bash
exec "$@"
