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


# Private ORM and DRF state a read path must not touch: an upgrade may change any of
# it without notice.
PRIVATE_INTERNALS = (
    "_authenticator",
    "klass_info",
    "get_related_populators",
    "annotation_col_map",
    "_prefetch_related_lookups",
    "JoinedQuery",
)


def test_no_code_reaches_into_private_orm_or_drf_internals():
    args = ["git", "grep", "-n", "-F"]
    for name in PRIVATE_INTERNALS:
        args += ["-e", name]
    run = subprocess.run(
        [*args, "--", ".", f":!{Path(__file__).relative_to(ROOT)}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, f"private internals used:\n{run.stdout}{run.stderr}"


def test_no_module_of_a_services_package_is_over_300_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in ROOT.glob("*/services/*.py")
        if (n := len(path.read_text().splitlines())) > 300
    }
    assert long == {}
