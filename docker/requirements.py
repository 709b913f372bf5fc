"""Print comicsrv's dependencies from setup.cfg, one per line, for
``pip install -r``: the Dockerfile installs them in a layer of their own
before it copies the source, so a change of the code does not reinstall them.

    python requirements.py setup.cfg [EXTRA ...]
"""
from __future__ import annotations

import configparser
import sys


def requirements(setup_cfg: str, extras: list[str]) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(setup_cfg, encoding="utf-8")
    lines = parser.get("options", "install_requires").splitlines()
    for extra in extras:
        lines += parser.get("options.extras_require", extra).splitlines()
    found = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and line not in found:
            found.append(line)
    return found


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("\n".join(requirements(sys.argv[1], sys.argv[2:])))
