"""Find a package's installed files (launch, config, urdf) with or without a ROS install."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def share_dir(package: str) -> Path:
    """The ``share/<package>`` folder: ament index first, then this prefix, then the source tree.

    A colcon install is found through the ament index; ``pip install`` puts the same files under
    ``sys.prefix/share``; an editable install reads them from ``src/<package>`` directly.
    """
    try:
        from ament_index_python.packages import (  # type: ignore[import-not-found,unused-ignore]
            PackageNotFoundError,
            get_package_share_directory,
        )

        try:
            return Path(get_package_share_directory(package))
        except (PackageNotFoundError, LookupError, ValueError, OSError):
            pass
    except ImportError:
        pass
    source = Path(__file__).resolve().parents[2] / package
    if (source / "package.xml").is_file():
        return source
    prefix = Path(sys.prefix) / "share" / package
    if prefix.is_dir():
        return prefix
    raise FileNotFoundError(f"package '{package}' is not installed (no share/{package} found)")


def repo_root() -> Path | None:
    """The source checkout's root when running from one (editable installs), else None."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "src" / "r1_core" / "package.xml").is_file() else None


def swap_in(tmp: Path, out: Path) -> None:
    """Put the complete folder ``tmp`` at ``out``; an existing ``out`` is replaced only after that.

    Renames only, so ``out`` is at every moment either the old complete folder or the new one
    (briefly absent between two renames, never half-written).
    """
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
