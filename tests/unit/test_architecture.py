"""vgg/'s packages import one way (vgg/__init__.py's LAYERS), with no cycle between modules, and TensorFlow stays out
of the packages that must load without it: read from the source with `ast`, so an import inside a function counts."""

import ast
import pathlib
import shutil

import pytest

import vgg

PACKAGE = pathlib.Path(vgg.__file__).resolve().parent
HEAVY = ("tensorflow", "keras", "streamlit")


def module_name(path, root):
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree):
    """(imported module name, whether the import is at module level) for every import in `tree`."""
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, id(node) in top_level) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from vgg.data import cifar10` imports the module vgg.data.cifar10, not only the package.
            yield from ((f"{node.module}.{alias.name}", id(node) in top_level) for alias in node.names)


def package_of(name):
    """The layer a vgg module belongs to: its subpackage, or "cli" for vgg.cli and vgg.__main__."""
    parts = name.split(".")
    if len(parts) < 2:
        return None
    return "cli" if parts[1] in ("cli", "__main__") else parts[1]


def problems(root=PACKAGE):
    """Every wrong-way import, TensorFlow import where none may be, and import cycle under `root`, in words."""
    layers, light = vgg.LAYERS, vgg.WITHOUT_TENSORFLOW
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    graph, found = {name: set() for name in modules}, []
    for name, path in modules.items():
        source = package_of(name)
        for imported, top_level in imports(ast.parse(path.read_text(), str(path))):
            first = imported.split(".")[0]
            if first in HEAVY and (source in light or first == "streamlit" or (source == "data" and top_level)):
                found.append(f"{name} imports {imported}")
            if first != "vgg" or source is None:
                continue
            target = package_of(imported)
            if target in layers and source in layers and layers.index(target) < layers.index(source):
                found.append(f"{name} ({source}) imports {imported} ({target}), against the direction")
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                graph[name].add(imported)
    return found + [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]


def cycles(graph):
    """One cycle through each module that is on one, found by depth-first search."""
    state, found = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_packages_import_one_way_without_cycles_and_keep_tensorflow_out_of_the_light_ones():
    assert problems() == []


def test_every_package_is_a_layer_and_says_what_it_owns():
    packages = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))
    assert packages == sorted(vgg.LAYERS)
    for package in packages:
        docstring = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert docstring and docstring.count("\n") == 0, package  # One line.


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        (
            "core/files.py",
            "from vgg.training.trainer import train_run",
            "vgg.core.files (core) imports vgg.training.trainer.train_run (training), against the direction",
        ),
        ("runs/status.py", "import vgg.runs.folder", "vgg.runs.status -> vgg.runs.folder"),
        ("runs/queue.py", "def f():\n    import tensorflow", "vgg.runs.queue imports tensorflow"),
        (
            "runs/queue.py",
            "def f():\n    import vgg.cluster.head",
            "vgg.runs.queue (runs) imports vgg.cluster.head (cluster), against the direction",
        ),
        ("data/cifar10.py", "import keras", "vgg.data.cifar10 imports keras"),
        ("explain/attention.py", "import streamlit", "vgg.explain.attention imports streamlit"),
    ],
)
def test_the_check_finds_a_wrong_way_import_a_cycle_and_tensorflow_where_it_must_not_be(
    tmp_path, module, line, expected
):
    copy = tmp_path / "vgg"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / module).write_text((copy / module).read_text() + f"\n{line}\n")
    found = problems(copy)
    assert any(expected in problem for problem in found), found


def load_time_imports(entry):
    """Every module that importing the project file `entry` imports at module level, following the project's own
    modules (vgg/ and app_pages/) transitively: what loads before any of its functions runs."""
    root = PACKAGE.parent
    modules = {module_name(path, root / "vgg"): path for path in (root / "vgg").rglob("*.py")}
    modules |= {module_name(path, root / "app_pages"): path for path in (root / "app_pages").glob("*.py")}
    found, todo, seen = set(), [entry], set()
    while todo:
        path = todo.pop()
        for imported, top_level in imports(ast.parse(path.read_text(), str(path))):
            if not top_level:
                continue
            while "." in imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            found.add(imported)
            if imported in modules and imported not in seen:
                seen.add(imported)
                todo.append(modules[imported])
    return found


def test_the_router_and_the_data_page_load_neither_tensorflow_nor_pandas_as_they_load():
    # The first page a class opens paints its heading before TensorFlow (seconds) or pandas (most of a second) loads:
    # BENCHMARKS.md, first paint. Streamlit itself imports Plotly.
    root = PACKAGE.parent
    loaded = load_time_imports(root / "streamlit_app.py") | load_time_imports(root / "app_pages" / "data_page.py")
    assert "app_pages.caches" in loaded and "numpy" in loaded  # The walk follows the project's modules.
    heavy = sorted(name for name in loaded if name.split(".")[0] in ("tensorflow", "keras", "pandas"))
    assert heavy == [], f"the Data page's path imports {heavy} as it loads; import them inside the functions"
