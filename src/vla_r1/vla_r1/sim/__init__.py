"""The MuJoCo tabletop world for vla_r1 (imports mujoco; not loaded by ``import vla_r1``)."""
