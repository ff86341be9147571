"""The public topic names of the node graph, declared once (the table in docs and GRAPH.md).

Names are relative, so a namespace per robot works, and every one is remappable; scripts, bags and
dashboards depend on them, so treat a change here as an API change (say so in the release notes).
"""

from __future__ import annotations

from typing import Final

# ---- sensors in (from the robot's drivers or the simulator) ----------------------------------
COLOR_IMAGE: Final = "camera/color/image_raw"
COLOR_INFO: Final = "camera/color/camera_info"
DEPTH_IMAGE: Final = "camera/depth/image_raw"
DEPTH_INFO: Final = "camera/depth/camera_info"
STEREO_LEFT_IMAGE: Final = "stereo/left/image_rect"
STEREO_LEFT_INFO: Final = "stereo/left/camera_info"
STEREO_RIGHT_IMAGE: Final = "stereo/right/image_rect"
STEREO_RIGHT_INFO: Final = "stereo/right/camera_info"
ODOM: Final = "odom"
JOINT_STATES: Final = "joint_states"
#: Absolute: simulation time is one clock for every namespace.
CLOCK: Final = "/clock"

# ---- navigation (nav_r1) -------------------------------------------------------------------
INSTRUCTION: Final = "nav_r1/instruction"
PLAN: Final = "nav_r1/plan"
STATUS: Final = "nav_r1/status"
JOY_VEL: Final = "joy_vel"
KEY_VEL: Final = "key_vel"
E_STOP: Final = "e_stop"
CMD_VEL: Final = "cmd_vel"
SAFETY: Final = "nav_r1/safety"
CONTROL_STATS: Final = "nav_r1/control_stats"
CONTROL_STATE: Final = "nav_r1/control_state"
#: base_link obstacle points from obstacle_node to the control node (obstacles:=process).
OBSTACLES: Final = "nav_r1/obstacles"
QUESTION: Final = "nav_r1/question"
ANSWER: Final = "nav_r1/answer"
GROUNDING: Final = "nav_r1/grounding"

# ---- depth (stereo_adapter) ------------------------------------------------------------------
STEREO_DEPTH: Final = "stereo/depth"
STEREO_DISPARITY: Final = "stereo/disparity"
STEREO_POINTS: Final = "stereo/points"

# ---- arm (vla_r1) ----------------------------------------------------------------------------
VLA_INSTRUCTION: Final = "vla_r1/instruction"
VLA_STATUS: Final = "vla_r1/status"
ARM_TRAJECTORY: Final = "arm_controller/joint_trajectory"
#: The streamed position set-points of joint_command_node (sensor_msgs/JointState).
JOINT_COMMANDS: Final = "joint_commands"

# ---- simulation --------------------------------------------------------------------------------
#: One JSON line per finished episode from the simulator bridge, then ``{"done": true}``.
SIM_EPISODE: Final = "sim/episode"
#: Lock-step (r1_core.ros.sim_sync): the bridge's tick and the nodes' acknowledgements.
SIM_TICK: Final = "sim/tick"
SIM_ACK: Final = "sim/ack"

# ---- evaluation inputs a bag may carry -----------------------------------------------------------
GOAL_POSE: Final = "goal_pose"
REFERENCE_PATH: Final = "nav_r1/reference_path"
