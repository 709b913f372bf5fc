"""Packaging: the data folders are declared so setuptools installs them
without a warning, and ``scripts/test`` installs only when the packaging
files changed (a second run goes straight to pytest)."""
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_package_builds_with_its_data_and_without_a_setuptools_warning(tmp_path):
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Warning" not in output and "deprecated" not in output, output
    built = tmp_path / "comicsrv"
    for wanted in ("web/static/vendor/swagger-ui/swagger-ui-bundle.js",
                   "web/templates/web/base.html",
                   "migrations/alembic.ini",
                   *(str(path.relative_to(ROOT))
                     for path in (ROOT / "migrations" / "versions").glob("*.py"))):
        assert (built / wanted).is_file(), wanted
    assert (tmp_path / "comicsrv_plugins").is_dir()


def test_scripts_test_installs_only_when_the_packaging_files_changed(tmp_path):
    """A copy of the repository's packaging files with a ``.venv/bin/python``
    that only records how it was called."""
    for name in ("setup.cfg", "setup.py", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test", tmp_path / "scripts" / "test")
    for name in ("system-packages", "test-packages"):
        (tmp_path / "scripts" / name).write_text("")
    (tmp_path / "tests" / "opds" / "node" / "node_modules" / "r2-opds-js").mkdir(parents=True)
    # The LANraragi clients' venv is up to date (its own stamp), so only the
    # main venv's install is in question here.
    requirements = ROOT / "tests" / "lrr_clients" / "requirements.txt"
    (tmp_path / "tests" / "lrr_clients").mkdir()
    shutil.copy(requirements, tmp_path / "tests" / "lrr_clients" / "requirements.txt")
    (tmp_path / ".venv-lrr-clients").mkdir()
    (tmp_path / ".venv-lrr-clients" / ".comicsrv-install").write_text(
        hashlib.sha256(requirements.read_bytes()).hexdigest() + "\n")
    calls = tmp_path / "calls"
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    python.chmod(0o755)

    def run_script() -> list[str]:
        calls.write_text("")
        result = subprocess.run(["bash", str(tmp_path / "scripts" / "test"), "-q", "tests/x.py"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return calls.read_text().splitlines()

    first = run_script()
    assert any("pip install" in call and "-e .[test,postgres]" in call for call in first)
    assert first[-1] == "-m pytest -q tests/x.py"
    assert run_script() == ["-m pytest -q tests/x.py"]
    with (tmp_path / "setup.cfg").open("a") as setup_cfg:
        setup_cfg.write("\n# a new dependency\n")
    assert any("pip install" in call for call in run_script())
