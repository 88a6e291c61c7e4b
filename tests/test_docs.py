"""The documentation: the site builds with no warning (mkdocs --strict fails on a broken link or
reference), and every command output shown in README.md and docs/*.md is what the command prints.

How a page shows output: a fenced block whose first line is `$ inspector ARGS` is a transcript.
Each `$ ` line is a command, the lines under it are what it prints on stdout (with ` 2>&1` at the
end of the command: stderr, then stdout, as a terminal shows them; with `| head -n N` or `| tail -n
N`: the first or last N lines). A fenced block whose first line is `# file: NAME` is written to
NAME before the commands after it run. Each page runs as one session, its blocks in order, in a
fresh temporary folder (so `build ... --out tiny` then `inspect tiny` works), with that folder's
path shown as `.`; trailing spaces are not compared. A block preceded by `<!-- not run: REASON -->`
is shown as is and not run. After changing a command's output, regenerate every block with one
command: python tests/test_docs.py --write
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```+)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!--\s*not run:\s*\S.*?-->\s*$")
PIPE = re.compile(r"\s*\|\s*(head|tail) -n (\d+)\s*$")  # `| head -n N`, `| tail -n N`


@dataclass
class Block:
    start: int  # offsets of the block's body in the page's text
    end: int
    body: str
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command line, output shown)


def blocks_of(text: str) -> list[Block]:
    """The page's transcripts and files, in order (blocks marked `not run` left out)."""
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        body = match.group(2)
        if NOT_RUN.search(before) or not body.startswith(("$ inspector ", "# file: ")):
            continue
        block = Block(match.start(2), match.end(2), body)
        if body.startswith("$ "):
            for chunk in re.split(r"^(?=\$ )", body, flags=re.MULTILINE)[1:]:
                line, _, shown = chunk.partition("\n")
                block.commands.append((line[2:], shown))
        found.append(block)
    return found


def run(command: str, folder: Path) -> str:
    """What `command` prints, as the page shows it."""
    pipe = PIPE.search(command)
    command = command[:pipe.start()] if pipe else command
    merged = command.endswith(" 2>&1")
    words = shlex.split(command.removesuffix(" 2>&1"))
    assert words[0] == "inspector", f"a transcript runs inspector only: {command}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    env.pop("INSPECTOR_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "inspector", *words[1:]], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    output = (result.stderr if merged else "") + result.stdout
    output = output.replace(str(folder.resolve()) + os.sep, "").replace(str(folder.resolve()), ".")
    lines = [line.rstrip() for line in output.rstrip("\n").split("\n")]
    if pipe:
        n = int(pipe.group(2))
        lines = lines[:n] if pipe.group(1) == "head" else lines[-n:]
    return "\n".join(lines) + "\n"


def normalised(shown: str) -> str:
    return "\n".join(line.rstrip() for line in shown.rstrip("\n").split("\n")) + "\n"


def session(page: Path, folder: Path):
    """Each block of the page with the output its commands print now, in order."""
    for block in blocks_of(page.read_text()):
        if block.body.startswith("# file: "):
            name = block.body.split("\n", 1)[0].removeprefix("# file: ").strip()
            (folder / name).write_text(block.body)
            yield block, None
            continue
        yield block, [(line, shown, run(line, folder)) for line, shown in block.commands]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_shown_output_is_what_the_command_prints(page, tmp_path):
    for block, results in session(page, tmp_path):
        for line, shown, printed in results or []:
            assert normalised(shown) == printed, (
                f"{page.name}: `{line}` prints otherwise (python tests/test_docs.py --write)")


def write(page: Path) -> int:
    """Put what each command prints now into the page; the number of blocks changed."""
    text = page.read_text()
    with tempfile.TemporaryDirectory() as temp:
        replaced = [(block, "".join(f"$ {line}\n{printed}" for line, _, printed in results))
                    for block, results in session(page, Path(temp)) if results is not None]
    changed = 0
    for block, body in reversed(replaced):
        if body != block.body:
            text = text[:block.start] + body + text[block.end:]
            changed += 1
    page.write_text(text)
    return changed


def test_site_builds_with_no_warning(tmp_path):
    """mkdocs.yml sets strict: a link to a missing page or anchor, or a page left out of the
    navigation, is a warning and fails the build."""
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(tmp_path / "site"), "--config-file", str(REPO / "mkdocs.yml")],
                            capture_output=True, text=True, timeout=600, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_readme_links_reach_files():
    """README.md sits outside the site: its relative links are checked here."""
    text = (REPO / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"[a-z]+:", target):
            assert (REPO / target).exists(), f"README.md links to {target}, which does not exist"


def test_specs_page_names_every_key_role_and_family():
    """docs/specs.md goes stale no more: each spec key, role and family is named there."""
    from inspector.families import spec_family_names
    from inspector.spec.schema import FIELDS
    from inspector.vocab.roles import Role

    page = (REPO / "docs" / "specs.md").read_text()
    words = [*FIELDS, *(role.value for role in Role), *spec_family_names()]
    assert not [word for word in words if f"`{word}`" not in page and f"\n{word}:" not in page]


def test_readme_reads_in_three_minutes():
    assert len((REPO / "README.md").read_text().splitlines()) <= 200


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_docs.py --write   (regenerates every shown output)")
    for page in PAGES:
        print(f"{page.relative_to(REPO)}: {write(page)} block(s) rewritten")
