"""The toolkit's shape: a package per concern, imports only downward, and no I/O when a module is imported."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import taglake

PACKAGE = Path(taglake.__file__).resolve().parent
FLAT_ALLOWED = {"__init__.py", "__main__.py", "cli.py"}
# Each concern's layer (docs/architecture.md): a module may import its own package and the layers below it.
LAYER = {
    "core": 0,
    "lake": 1,
    "privacy": 1,
    "aws": 2,
    "verify": 2,
    "ops": 2,
    "ingest": 2,
    "bench": 2,
    "ml": 2,
    "replicate": 2,
    "serve": 2,
    "infra": 3,
    "cli": 4,
    "__main__": 5,
}
# Imports between packages of one layer, each with its reason; anything else sideways is refused.
SIDEWAYS = {
    ("aws", "verify"): "the access declaration is compiled offline with verify's placeholder environment",
    ("ml", "aws"): "the export applies Lake Formation's grants (taglake.aws.lake_formation) to the columns it writes",
    ("bench", "serve"): "the retrieval benchmark times the serving code itself (taglake bench retrieval)",
    ("bench", "verify"): "the Athena estimate compiles the daily run offline (taglake.verify.offline_compile)",
    ("bench", "ops"): "the Athena estimate bills each query with taglake.ops.query.athena_cost_usd (one price rule)",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _concern(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_concerns(path: Path) -> set[tuple[str, int]]:
    """(concern, line) of every taglake import in the file, function-level (lazy) imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "taglake":
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("taglake.")]
        found |= {(name, node.lineno) for name in names if name in LAYER}
    return found


def test_no_module_is_left_flat_beside_the_cli() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in FLAT_ALLOWED)
    assert flat == [], f"put these in the package of their concern: {flat}"


def test_every_package_is_a_known_concern() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(LAYER), (
        f"add the new package's layer to docs/architecture.md and LAYER: {packages - set(LAYER)}"
    )


def test_packages_import_only_their_own_layer_or_below() -> None:
    wrong = []
    for path in _modules():
        source = _concern(path)
        if source == "__init__":
            continue
        for target, line in _imported_concerns(path):
            if target == source:
                continue
            upward = LAYER[target] > LAYER[source]
            sideways = LAYER[target] == LAYER[source] and (source, target) not in SIDEWAYS
            if upward or sideways:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} -> {target}")
    assert wrong == [], "imports against the layering (docs/architecture.md):\n" + "\n".join(sorted(wrong))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """The taglake modules a file imports, function-level (lazy) imports included: `from taglake.x import y` is
    the module `taglake.x.y` when that is a module, else `taglake.x`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("taglake"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("taglake.")}
    return found & known


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    """No import cycle between modules, lazy imports included (a function-level import that closes a circle only
    hides it)."""
    paths = {_module_name(path): path for path in _modules()}
    known = set(paths)
    graph = {
        name: {m for m in _imported_modules(path, known) if m != name and not name.startswith(m + ".")}
        for name, path in paths.items()
    }
    assert _cycles(graph) == [], "modules that import each other in a circle"


_IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
import taglake

opened = []
watch = ("open", "os.mkdir", "os.remove", "os.rename", "os.chmod", "shutil.copyfile")
prefixes = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})

def hook(event, args):
    if event not in watch or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if path.startswith(prefixes) or path.endswith((".py", ".pyc")) or "__pycache__" in path:
        return  # Python and its libraries loading themselves
    opened.append([current, event, path])

current = "taglake"
sys.addaudithook(hook)
for info in pkgutil.walk_packages(taglake.__path__, "taglake."):
    if info.name == "taglake.__main__":
        continue
    current = info.name
    importlib.import_module(info.name)
print(json.dumps(opened))
"""


def test_importing_every_module_reads_and_writes_no_file(tmp_path: Path) -> None:
    """No module does I/O when imported: no file read (no source YAML, seed or key), none made (no key)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "TAGLAKE_PROJECT_DIR": str(tmp_path),
        "TAGLAKE_KEY_FILE": str(tmp_path / "key.csv"),
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, f"importing taglake's modules failed: {result.stderr.strip().splitlines()[-1:]}"
    touched = [entry for entry in json.loads(result.stdout) if not entry[2].startswith(str(PACKAGE))]
    assert touched == [], "modules that do I/O when imported (module, event, path):\n" + "\n".join(map(str, touched))
    assert list(tmp_path.iterdir()) == [], "importing taglake made files"


def test_only_the_dbt_runner_builds_dbt_command_lines() -> None:
    """One builder of dbt command lines (taglake.privacy.dbt_runner.dbt_command)."""
    runner = PACKAGE / "privacy" / "dbt_runner.py"
    builders = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for path in _modules()
        if path != runner
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dbt_executable"
    ]
    assert builders == [], f"build dbt command lines with dbt_runner.dbt_command: {builders}"
