# syntax=docker/dockerfile:1
# The robot image for x86-64 computers with an NVIDIA GPU: the whole ROS 2 graph (sensors, reasoning
# node, fast control, depth, teleop), started with `ros2 launch nav_r1 robot.launch.py`.
#
# Base: the official `ros:<distro>-ros-base` image (Ubuntu + ROS apt packages, colcon and rosdep
# already in it). CUDA does not come from the base: PyPI's x86-64 torch wheels carry their own CUDA
# runtime and cuDNN, so the container needs only the host's NVIDIA driver, handed in by the NVIDIA
# Container Toolkit (the GPU reservation in docker/compose.yaml). That keeps one official ROS base for
# Humble, Jazzy and Kilted instead of a CUDA base plus a hand-made ROS install. A CPU-only machine
# runs the same image (torch falls back to the CPU).
#
# Build from the repository root (the context must hold src/ and config/):
#   docker build -f docker/Dockerfile.robot --build-arg ROS_DISTRO=jazzy --build-arg ROBOT=dog -t r1-robot .
# NOT BUILT HERE: our machines have no Docker engine. tests/deploy lints this file with hadolint and
# checks statically what it copies and runs; see docs/deploy/README.md for what that does not cover.
ARG ROS_DISTRO=jazzy

# ---- build: colcon on the base's own Python and setuptools, before pip adds anything ----------
FROM ros:${ROS_DISTRO}-ros-base AS build
ARG ROS_DISTRO
# dog | uav | wheeled: the `robot:=` argument of robot.launch.py (changeable at run time, R1_ROBOT).
ARG ROBOT=dog
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Fail on a bad argument before the long steps, naming it.
RUN case "${ROS_DISTRO}" in humble|jazzy|kilted) ;; \
      *) echo "build arg ROS_DISTRO must be humble, jazzy or kilted, got '${ROS_DISTRO}'" >&2; exit 1 ;; esac \
 && case "${ROBOT}" in dog|uav|wheeled) ;; \
      *) echo "build arg ROBOT must be dog, uav or wheeled, got '${ROBOT}'" >&2; exit 1 ;; esac

# The system colcon and Python, no venv: setuptools ignores setup.cfg's install_scripts inside a
# venv (ros2/ci#400, colcon-core#518) and the nodes would land in bin/, where `ros2 run` and launch
# files do not look. In its own stage so the pip packages of the runtime stage (torch pulls in a
# newer setuptools) never touch the build, and source edits do not reinstall them.
WORKDIR /ws
COPY src/ src/
RUN . "/opt/ros/${ROS_DISTRO}/setup.sh" \
 && colcon build --merge-install \
 && rm -rf build log

# ---- runtime ----------------------------------------------------------------------------------
FROM ros:${ROS_DISTRO}-ros-base AS runtime
ARG ROS_DISTRO
ARG ROBOT=dog
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The non-ROS Python requirements (ROS itself comes from apt) go into /usr/local beside Debian's
# packages: --ignore-installed never uninstalls a Debian copy (Ubuntu 24.04 refuses to, having no
# RECORD for them), PIP_BREAK_SYSTEM_PACKAGES allows it on 24.04 and is ignored by Humble's pip.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
COPY docker/requirements-ros-image.txt /tmp/requirements-ros-image.txt
RUN python3 -m pip install --no-cache-dir --ignore-installed -r /tmp/requirements-ros-image.txt

# ROS dependencies declared in the package.xml files; the python3-* keys are skipped because the
# pip step above provides newer versions of the same libraries (numpy 2, OpenCV wheels).
WORKDIR /ws
COPY src/r1_core/package.xml src/r1_core/package.xml
COPY src/r1_description/package.xml src/r1_description/package.xml
COPY src/nav_r1/package.xml src/nav_r1/package.xml
COPY src/r1_sim/package.xml src/r1_sim/package.xml
COPY src/stereo_adapter/package.xml src/stereo_adapter/package.xml
COPY src/vla_r1/package.xml src/vla_r1/package.xml
RUN apt-get update \
 && rosdep update --rosdistro "${ROS_DISTRO}" \
 && rosdep install --from-paths src --ignore-src -y --rosdistro "${ROS_DISTRO}" \
      --skip-keys "python3-numpy python3-scipy python3-opencv python3-matplotlib python3-yaml python3-pytest" \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /ws/install /ws/install

# Fast DDS profiles: the default single-host profile (16 MiB shared-memory segments for images)
# and the multi-machine ones (docs/deploy/multi-machine.md). Fast DDS 2.x (Humble, Jazzy) reads
# FASTRTPS_DEFAULT_PROFILES_FILE, Fast DDS 3.x (Kilted) FASTDDS_DEFAULT_PROFILES_FILE.
COPY src/r1_core/r1_core/fastdds_profile.xml /opt/r1/fastdds/fastdds_profile.xml
COPY config/fastdds/ /opt/r1/fastdds/
COPY docker/entrypoint.sh /opt/r1/entrypoint.sh

ENV ROS_DISTRO=${ROS_DISTRO} \
    RMW_IMPLEMENTATION=rmw_fastrtps_cpp \
    FASTDDS_DEFAULT_PROFILES_FILE=/opt/r1/fastdds/fastdds_profile.xml \
    FASTRTPS_DEFAULT_PROFILES_FILE=/opt/r1/fastdds/fastdds_profile.xml \
    R1_ROBOT=${ROBOT} \
    R1_LAUNCH_ARGS="reasoner:=openai:http://127.0.0.1:8000/v1#nav-r1 depth:=none"

# Default launch arguments: the model behind an OpenAI-compatible server on this machine, and the
# RGB-D camera's own depth (depth:=sgbm or learned for a stereo pair). Override R1_LAUNCH_ARGS.
ENTRYPOINT ["/opt/r1/entrypoint.sh"]
CMD ["bash", "-c", "exec ros2 launch nav_r1 robot.launch.py robot:=\"${R1_ROBOT}\" ${R1_LAUNCH_ARGS}"]
