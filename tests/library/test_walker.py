import os

from comicsrv.library.walker import walk_library


def test_walk_finds_comics_and_image_folders_and_skips_junk(tmp_path):
    (tmp_path / "Pub" / "Series").mkdir(parents=True)
    (tmp_path / "Pub" / "Series" / "a.cbz").write_bytes(b"x" * 10)
    (tmp_path / "Pub" / "Series" / "B.CBR").write_bytes(b"y")
    (tmp_path / "Pub" / "Series" / "notes.txt").write_text("no")
    (tmp_path / "Pub" / "Series" / "cover.jpg").write_bytes(b"j")  # beside archives
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.cbz").write_bytes(b"z")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "d.cbz").write_bytes(b"z")
    pages = tmp_path / "Pub" / "Scans" / "Issue 1"
    pages.mkdir(parents=True)
    for i in range(3):
        (pages / f"{i:03d}.jpg").write_bytes(b"p" * (i + 1))
    lonely = tmp_path / "Pub" / "Cover only"
    lonely.mkdir()
    (lonely / "folder.jpg").write_bytes(b"p")
    os.symlink(tmp_path, tmp_path / "Pub" / "loop")  # never followed

    found = {os.path.relpath(s.path, tmp_path): s for s in walk_library(str(tmp_path))}
    assert set(found) == {"Pub/Series/a.cbz", "Pub/Series/B.CBR", "Pub/Scans/Issue 1"}
    assert found["Pub/Series/a.cbz"].size == 10
    folder = found["Pub/Scans/Issue 1"]
    assert folder.is_folder and folder.size == 6


def test_unreadable_folder_is_reported_not_fatal(tmp_path):
    errors = []
    list(walk_library(str(tmp_path / "nope"), errors))
    assert errors and errors[0][0].endswith("nope")
