"""The dependency arrows between the apps (docs/architecture.md) hold.

The contracts are in pyproject.toml ([tool.importlinter]); bin/test runs the same
check. Running it here too makes a broken arrow show up in the test results.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_apps_import_only_along_the_dependency_arrows():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run(
        [str(lint_imports), "--no-logo", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, f"lint-imports failed:\n{run.stdout}\n{run.stderr}"
    assert "0 broken" in run.stdout, run.stdout
