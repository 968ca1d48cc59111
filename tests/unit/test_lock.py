"""The committed lock pins every package, and every package pyproject.toml asks for is in it:
a fresh clone installs exactly these versions (Makefile: `pip install --no-deps`)."""

from __future__ import annotations

import re
import tomllib

from support import ROOT

LOCK = ROOT / "requirements.txt"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = line.split(";")[0].strip()
        assert re.fullmatch(r"[A-Za-z0-9._\[\]-]+==[A-Za-z0-9.+!-]+", requirement), line
        name, version = requirement.split("==")
        pins[_normal(name.split("[")[0])] = version
    return pins


def test_every_package_of_the_lock_is_pinned_and_every_requirement_is_locked() -> None:
    pins = _locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    missing = [w for w in wanted if _normal(NAME.match(w).group(0)) not in pins]  # type: ignore[union-attr]
    assert not missing, f"not in requirements.txt (run `make lock`): {missing}"
    build = (ROOT / "requirements-build.txt").read_text().splitlines()
    assert all("==" in line for line in build if line.strip() and not line.startswith("#"))
