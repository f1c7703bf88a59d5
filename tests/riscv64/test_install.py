"""docs/satellite.md's riscv64 install steps, run as written on an emulated riscv64 Debian."""

from __future__ import annotations

import shutil

import pytest

from tests.riscv64.conftest import InstalledSatellite


def test_the_docs_riscv64_steps_install_a_satellite_that_runs(
    installed: InstalledSatellite,
) -> None:
    assert "usage: anima-satellite" in installed.output  # the steps end with --help
    probe = installed.board.run(
        f"{installed.bin('python')} -c 'import platform, numpy, anima_satellite.satellite;"
        " print(platform.machine(), numpy.__file__)'"
    )
    machine, numpy_file = probe.stdout.split()
    assert machine == "riscv64"
    assert numpy_file.startswith("/usr/lib/python3/dist-packages/")  # Debian's, not a build


def test_the_board_has_no_compiler_so_nothing_was_built(installed: InstalledSatellite) -> None:
    root = installed.board.board / "root"
    assert not [cc for cc in ("gcc", "cc", "c++") if shutil.which(cc, path=str(root / "usr/bin"))]


pytestmark = pytest.mark.timeout(1800)  # the install runs in the first test's set-up
