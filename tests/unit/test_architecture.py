"""Boundaries and house style are code (issue 17): the import-linter contracts in
pyproject.toml hold; no function in `services/` or `shared/` is over 60 lines or above radon
grade C; no module imports another's private names; no block of 10 lines is written twice.

`ruff check`, `ruff format --check` and `mypy` (strict for `shared/` and the pure rules) run
in `.ci/run` beside the tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parents[2]
CODE = ("services", "shared")
MAX_FUNCTION_LINES = 60
WORST_GRADE = "C"
REPEATED_LINES = 10


def sources(*roots: str) -> Iterator[Path]:
    for root in roots:
        yield from sorted((ROOT / root).rglob("*.py"))


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "kept" in result.stdout, result.stdout


def test_no_function_is_over_sixty_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
        for path in sources(*CODE)
        for fn in functions(ast.parse(path.read_text(), str(path)))
        if fn.end_lineno is not None and fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "split these functions:\n" + "\n".join(long)


def test_no_function_is_above_radon_grade_c() -> None:
    complex_ = [
        f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname} (complexity {block.complexity})"
        for path in sources(*CODE)
        for block in cc_visit(path.read_text())
        if cc_rank(block.complexity) > WORST_GRADE
    ]
    assert not complex_, "simplify these (radon grade D or worse):\n" + "\n".join(complex_)


def private_imports(path: Path) -> Iterator[str]:
    """`from m import _name` and `module._name` where `module` was imported: reaching into
    another module's private parts (within a module, its own `_names` are fine)."""
    tree = ast.parse(path.read_text(), str(path))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if any(part.startswith("_") and not part.startswith("__") for part in (node.module or "").split(".")):
                yield f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}"
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{path.relative_to(ROOT)}:{node.lineno} {alias.name} from {node.module}"
        elif isinstance(node, ast.Import):
            imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            yield f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}"


def test_no_module_imports_private_names_of_another() -> None:
    found = [hit for path in sources(*CODE, "tests", "bench", "tools") for hit in private_imports(path)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def code_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines that carry code, stripped: no blank lines, comments, or imports."""
    kept = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if text and not text.startswith(("#", "import ", "from ")) and text not in {")", "]", "}", "),", "],", "},"}:
            kept.append((number, text))
    return kept


def test_no_block_of_ten_lines_is_written_twice() -> None:
    """Ten code lines in a row, the same to the letter, in two places of `services/` or
    `shared/`: one piece of code should serve both (the `duplicates` tool also finds blocks
    alike but for names; those are looked at by hand, as the house shape repeats on purpose)."""
    seen: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in sources(*CODE):
        lines = code_lines(path)
        for i in range(len(lines) - REPEATED_LINES + 1):
            window = tuple(text for _, text in lines[i : i + REPEATED_LINES])
            seen[window].append(f"{path.relative_to(ROOT)}:{lines[i][0]}")
    repeated = [places for places in seen.values() if len(places) > 1]
    assert not repeated, "blocks written twice:\n" + "\n".join(" ~ ".join(p) for p in repeated[:20])
