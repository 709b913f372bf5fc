"""The built-in post-processing steps, loaded through their entry point like a
third-party plugin and run by the real job against real archives."""
import zipfile
from pathlib import Path

from comicsrv.plugins import PluginRegistry
from comicsrv_plugins.postprocessing import VerifyComics
from tests.automation.test_postprocess import CBZ, library, make_download, run  # noqa: F401


def test_steps_are_provided_through_the_entry_point():
    registry = PluginRegistry()
    registry.load_entry_points()
    [(plugin, steps)] = registry.call("comicsrv_postprocess_steps")
    assert plugin == "postprocessing"
    assert {s.outcome for s in steps} == {"success", "failure"}
    assert len({s.name for s in steps}) == len(steps)


def test_the_file_whose_name_carries_the_issue_number_is_chosen():
    files = [{"path": "/d/Saga 017 (2012).cbz", "size": 900},
             {"path": "/d/Saga 007 (2012).cbz", "size": 100},
             {"path": "/d/Saga 7.5 (2012).cbz", "size": 800}]
    assert VerifyComics._choose(files, "7")["path"] == "/d/Saga 007 (2012).cbz"
    assert VerifyComics._choose(files, "99")["path"] == "/d/Saga 017 (2012).cbz"  # the biggest
    assert VerifyComics._choose(files, None)["size"] == 900


def test_a_pack_download_imports_this_issue_from_a_zip_of_cbz_files(app, tmp_path, library):  # noqa: F811
    pack = tmp_path / "pack.zip"
    with zipfile.ZipFile(pack, "w") as zf:
        zf.writestr("Saga 001 (2012).cbz", CBZ.read_bytes())
        zf.writestr("Saga 002 (2012).cbz", CBZ.read_bytes() + b"")
        zf.writestr("Saga 002 (2012) sample.cbz", CBZ.read_bytes())
    download, _, folder = make_download(tmp_path, library, number="2",
                                        files={"Saga 001-002 pack.zip": pack})
    job = run(app, download.id)
    assert job.state == "finished", job.error
    context = job.result["context"]
    assert Path(context["chosen"]["path"]).name == "Saga 002 (2012).cbz"
    assert context["imported_path"].endswith("Saga (2012)/Saga 002 (2012).cbz")
    # The download's own archive stays: only the unpacked copy was moved.
    assert (folder / "Saga 001-002 pack.zip").exists()
    assert any("sample" in s for s in context["skipped"])
