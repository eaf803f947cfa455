"""Every example's emitted playbook passes `ansible-playbook --syntax-check` and ansible-lint
(its default profile, offline), as an Ansible user's CI would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_ansible import REPO, gpuc

BIN = Path(sys.executable).parent
EXAMPLES = sorted((REPO / "examples").glob("*.gpu")) + [REPO / "tests/vcsim/fleet.gpu"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_playbook_passes_syntax_check_and_ansible_lint(example, tmp_path):
    completed = gpuc("build", str(example), "-o", str(tmp_path / "out"))
    assert completed.returncode == 0, completed.stderr
    playbook = tmp_path / "out/ansible"
    assert (playbook / "site.yml").is_file()
    syntax = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventory.yml", "--syntax-check", "site.yml"],
                            cwd=playbook, capture_output=True, text=True, timeout=300)
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    lint = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--nocolor", "site.yml"],
                          cwd=playbook, capture_output=True, text=True, timeout=600)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 failure(s), 0 warning(s)" in lint.stdout + lint.stderr
