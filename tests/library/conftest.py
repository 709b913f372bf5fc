import shutil
from pathlib import Path

import pytest

FIXTURE_ARCHIVES = Path(__file__).parents[1] / "fixtures" / "archives"


@pytest.fixture
def comic_tree(tmp_path):
    """A small library in CLU's Publisher/Series layout, from real archives."""
    root = tmp_path / "comics"
    layout = {
        "Youthful/Captain Science/Captain Science #001.cbz": "comicbox/Captain Science #001.cbz",
        "Youthful/Captain Science/Captain Science #001 (rar).cbr": "comicbox/Captain Science #001-cbi.cbr",
        "Youthful/Captain Science/v1950/Captain Science #001.cb7": "comicbox/Captain Science #001.cb7",
        "Komga/Tests/rar4.cbr": "komga/rar4.rar",
        "Komga/Tests/rar5-solid.cbr": "komga/rar5-solid.rar",
        "Komga/Tests/komga.pdf": "komga/komga.pdf",
        "Komga/Tests/encrypted.cbz": "komga/zip-encrypted.zip",
        "Komga/Tests/empty.cbz": "kavita/empty.zip",
    }
    for target, source in layout.items():
        dest = root / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURE_ARCHIVES / source, dest)
    return root
