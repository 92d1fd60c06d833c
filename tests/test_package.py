import subprocess
import sys

import clusterkrise


def test_project_root_holds_the_library():
    assert (clusterkrise.PROJECT_ROOT / "lib" / "clusterkrise" / "__init__.py").is_file()


def test_cli_answers_version():
    out = subprocess.run([sys.executable, "-m", "clusterkrise", "--version"], capture_output=True, text=True, check=True)
    assert clusterkrise.__version__ in out.stdout
