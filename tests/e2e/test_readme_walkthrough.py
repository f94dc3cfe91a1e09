"""The README, followed from top to bottom as a newcomer would: every shell block, in order, in one bash
session against the test stack.

The convention the README keeps:
- every ```sh / ```bash / ```console / ```shell block runs, unless its first line is
  `# not run here: <reason>` (e.g. `make up`, which starts the stack this test provides);
- every `curl` is followed, before the next one, by a comment `# → <status> …` showing what it answers:
  the session fails at the first call that answers another status;
- `localhost:800N` is the service on port 800N, and `alice` the walkthrough's member (here a new id);
- dates come from `date`, relative to today, and every id a later command needs is read from an earlier
  answer with jq, so nothing in it goes stale.
"""
from __future__ import annotations

import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from rewards_shared.cli import write_dev_tokens
from rewards_shared.config import REPO_ROOT
from rewards_shared.service import discover

README = REPO_ROOT / "README.md"
SHELLS = ("sh", "bash", "console", "shell")
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
NOT_RUN = re.compile(r"#\s*not run here:\s*(\S.*)")
CURL = re.compile(r"(?:^|(?<=[\s;(|&]))curl(?=\s)")
EXPECTED = re.compile(r"^\s*#\s*→\s*(\d{3})\b")
DEADLINE_SECONDS = 420

# What the session defines before the README's first line: `curl` that checks each answer's status
# against the README's `# → NNN` (the test writes each call as `__readme_curl NNN LINE …`).
PRELUDE = r"""
set -euo pipefail
__readme_curl() {
  local want=$1 line=$2; shift 2
  local body; body=$(mktemp)
  local got
  got=$(command curl -sS -o "$body" -w '%{http_code}' "$@") || { echo "README.md:$line: curl failed" >&2; return 1; }
  cat "$body"
  if [ "$got" != "$want" ]; then
    echo >&2; echo "README.md:$line: answered $got where the README shows $want:" >&2; cat "$body" >&2; echo >&2
    rm -f "$body"; return 1
  fi
  rm -f "$body"
}
"""


@dataclass(frozen=True)
class Block:
    line: int           # of its first line in README.md
    text: str
    skipped: str | None  # the reason it is not run


def shell_blocks(readme: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(readme):
        if match.group(1) not in SHELLS:
            continue
        text = match.group(2)
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        reason = NOT_RUN.match(first)
        blocks.append(Block(readme.count("\n", 0, match.start(2)) + 1, text, reason.group(1) if reason else None))
    return blocks


def with_expectations(block: Block) -> str:
    """The block with each curl call written `__readme_curl <status> <line>`, the status from the `# → NNN`
    comment that follows it; a call without one fails the test."""
    lines = block.text.splitlines()
    out = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith("#") or not CURL.search(line):
            out.append(line)
            continue
        call = _call(lines, index, block.line)
        out.append(CURL.sub(lambda _, call=call: call, line))
    return "\n".join(out) + "\n"


def _call(lines: list[str], index: int, first_line: int) -> str:
    for later in lines[index + 1:]:
        found = EXPECTED.match(later)
        if found:
            return f"__readme_curl {found.group(1)} {first_line + index}"
        if not later.lstrip().startswith("#") and CURL.search(later):
            break
    raise AssertionError(f"README.md:{first_line + index}: this curl shows no `# → <status>` answer before the "
                         "next one")


def localised(text: str, ports: dict[int, int], member_id: str) -> str:
    """The README's `localhost:800N` on the test stack's ports, and its member `alice` a new member."""
    text = re.sub(r"localhost:(80\d\d)", lambda m: f"127.0.0.1:{ports[int(m.group(1))]}", text)
    return re.sub(r"\balice\b", member_id, text)


def test_every_shell_block_says_whether_it_runs():
    blocks = shell_blocks(README.read_text())
    assert len(blocks) > 10
    for block in blocks:
        if block.skipped is None:
            with_expectations(block)  # every curl shows its answer
    print("\n".join(f"README.md:{b.line}: not run: {b.skipped}" for b in blocks if b.skipped))


@pytest.fixture
def walkthrough_dir(tmp_path, stack, stack_env, monkeypatch) -> Path:
    """A folder laid out like a clone after `make up`: .venv, the samples, .local/keys with dev-tokens.env."""
    monkeypatch.setenv("REWARDS_CREDENTIALS_LOG", stack_env["REWARDS_CREDENTIALS_LOG"])
    write_dev_tokens(stack, stack_env)
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "keys").symlink_to(stack.keys)
    (tmp_path / ".venv").symlink_to(REPO_ROOT / ".venv")
    (tmp_path / "docs").symlink_to(REPO_ROOT / "docs")
    return tmp_path


def test_the_readme_runs_from_top_to_bottom(services, stack, stack_env, walkthrough_dir, tmp_path):
    ports = {info.default_port: stack.web_port(info) for info in discover().values()}
    member_id = f"m-{uuid.uuid4().hex[:12]}"
    script = [PRELUDE]
    for block in shell_blocks(README.read_text()):
        if block.skipped:
            continue
        script.append(f"echo '--- README.md:{block.line}' >&2\n")
        script.append(localised(with_expectations(block), ports, member_id))
    (tmp_path / "readme.sh").write_text("".join(script))
    env = {**os.environ, "REWARDS_ENV_FILE": str(stack.env_file), "HOME": os.environ.get("HOME", str(tmp_path))}
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):  # the CLI takes them from the stack's env file
        env.pop(name, None)
    ran = subprocess.run(["bash", str(tmp_path / "readme.sh")], cwd=walkthrough_dir, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=DEADLINE_SECONDS)
    print(ran.stdout)  # the transcript, in order (-s shows it)
    assert ran.returncode == 0, f"the README stopped (exit {ran.returncode}):\n{ran.stdout[-4000:]}"
