"""Which modules a submitted detector may import: what the benchmark pins, not whatever happens to be installed.

Takes the source of a submission's `.py` files; produces `ALLOWED_PACKAGES` (top-level import names a detector may
use besides the standard library and its own folder), `allowed(top)`, and `review_source`, the problems of one file
as `file:line: ...` lines. The list is the benchmark's own scientific stack (pyproject.toml's dependencies a
detector can reasonably use); a package that is merely installed through a dependency (nltk, via lm-eval) is not on
it, because a maintainer's machine, the CI runner and the hidden re-run may hold different transitive packages, and
a method must give the same result on all of them.

Enforced statically (`folder.load_submission` reads every .py file of the folder with `ast`, executing nothing):
the imports must be allowed, and the ways to import or run code a reader cannot see (`importlib`, `__import__`,
`exec`, `eval`, `compile`, pickles) are refused, so what a reviewer reads is what runs. This is a review aid, not
the security boundary: code that slips past it still runs only inside the sandbox.
"""

from __future__ import annotations

import ast
import sys

# Top-level import name -> the distribution pyproject.toml pins it through.
ALLOWED_PACKAGES: dict[str, str] = {
    "distillbench": "distillbench",
    "numpy": "numpy (through torch, scipy, scikit-learn)",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "torch": "torch",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "pydantic": "pydantic",
    "yaml": "pyyaml",
}

# Standard-library modules that import or run code a reader cannot see (importlib, runpy, pickle, code), reach
# outside the process (ctypes, subprocess, socket), or only make sense for escaping the sandbox.
REFUSED_STDLIB = frozenset({
    "ctypes", "_ctypes", "importlib", "runpy", "pkgutil", "code", "codeop", "builtins", "pickle", "_pickle", "shelve",
    "marshal", "zipimport", "subprocess", "multiprocessing", "socket", "_socket", "ssl", "asyncio", "pty",
    "resource", "signal", "mmap", "fcntl", "antigravity", "this",
})

# Builtins (and the builtins namespace itself) that import or run code given as a string.
REFUSED_BUILTINS = frozenset({"__import__", "exec", "eval", "compile", "breakpoint", "__builtins__"})

# Ways to reach a module, a builtin or a namespace by a name computed at run time, past the checks above:
# `sys.modules["importlib"]`, `globals()["__builtins__"]`, `getattr(obj, "ex" + "ec")`, `f.__globals__`, ...
REFUSED_NAMES = frozenset({"globals", "vars", "locals"})
REFUSED_ATTRIBUTES = frozenset({"modules", "__dict__", "__globals__", "__builtins__", "__subclasses__", "__code__",
                                "__loader__", "__spec__", "__getattribute__", "__reduce__", "__reduce_ex__"})
DYNAMIC_ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})

# Calls that unpickle, i.e. run code stored in a data file: `numpy.load(..., allow_pickle=True)`,
# `torch.load(..., weights_only=False)`, `pandas.read_pickle(...)`.
PICKLE_KEYWORDS = {"allow_pickle": True, "weights_only": False}
PICKLE_CALLS = frozenset({"read_pickle", "load_pickle"})


def allowed(top: str) -> bool:
    """May a detector import the top-level module `top` (not counting modules of its own folder)?"""
    if top in REFUSED_STDLIB:
        return False
    return top in ALLOWED_PACKAGES or top in sys.stdlib_module_names or top in sys.builtin_module_names


def allowed_text() -> str:
    """The allowed packages in words, for error messages and CONTRIBUTING.md."""
    return ", ".join(sorted(ALLOWED_PACKAGES))


def _import_problem(rel: str, line: int, name: str, own: set[str], stmt: str | None = None) -> str | None:
    top = name.split(".")[0]
    stmt = stmt or f"import {name}"
    if top in own:
        return None
    if top in REFUSED_STDLIB:
        return (f"{rel}:{line}: `{stmt}` is refused: it imports or runs code a reviewer cannot read, or reaches "
                "outside the detector's process")
    if not allowed(top):
        return (f"{rel}:{line}: `{stmt}` is not allowed: a detector may import the standard library, its own "
                f"folder's modules and {allowed_text()} (what the benchmark pins; see CONTRIBUTING.md)")
    return None


def _called_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def review_source(rel: str, text: str, own: set[str]) -> tuple[ast.Module | None, list[str]]:
    """Parse one file of a submission; returns its tree (None if it does not parse) and its problems, each
    `rel:line: what`. `own` holds the top-level module names the submission's folder provides."""
    try:
        tree = ast.parse(text, filename=rel)
    except SyntaxError as exc:
        return None, [f"{rel}:{exc.lineno or 0}: not valid Python ({exc.msg})"]
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        return None, [f"{rel}: not valid Python ({type(exc).__name__})"]
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += filter(None, (_import_problem(rel, node.lineno, a.name, own) for a in node.names))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:  # relative imports stay inside the folder
                names = ", ".join(a.name for a in node.names)
                problem = _import_problem(rel, node.lineno, node.module, own, f"from {node.module} import {names}")
                if problem:
                    problems.append(problem)
        elif isinstance(node, ast.Name) and node.id in REFUSED_BUILTINS:
            problems.append(f"{rel}:{node.lineno}: `{node.id}` is refused: it imports or runs code given as a "
                            "string, which a reviewer cannot read")
        elif isinstance(node, ast.Attribute) and node.attr in REFUSED_BUILTINS | PICKLE_CALLS:
            problems.append(f"{rel}:{node.lineno}: `.{node.attr}` is refused: it imports or runs code a reviewer "
                            "cannot read")
        elif isinstance(node, ast.Name) and node.id in REFUSED_NAMES:
            problems.append(f"{rel}:{node.lineno}: `{node.id}()` is refused: it reaches names chosen at run time, "
                            "which a reviewer cannot read")
        elif isinstance(node, ast.Attribute) and node.attr in REFUSED_ATTRIBUTES:
            problems.append(f"{rel}:{node.lineno}: `.{node.attr}` is refused: it reaches modules or namespaces by "
                            "names chosen at run time, which a reviewer cannot read")
        if isinstance(node, ast.Call):
            if (isinstance(node.func, ast.Name) and node.func.id in DYNAMIC_ATTRIBUTE_CALLS
                    and (len(node.args) < 2 or not isinstance(node.args[1], ast.Constant)
                         or node.args[1].value in REFUSED_BUILTINS | REFUSED_ATTRIBUTES)):
                problems.append(f"{rel}:{node.lineno}: `{node.func.id}` with a computed or refused attribute name "
                                "is refused: write the attribute out (`obj.name`) so a reviewer can read it")
            for kw in node.keywords:
                if kw.arg is None and _called_name(node) in {"load", "loads", "read_pickle", "load_pickle"}:
                    problems.append(f"{rel}:{node.lineno}: `**` keywords in a `{_called_name(node)}` call are refused: "
                                    "write the keywords out, so a reviewer can see nothing is unpickled")
                elif kw.arg in PICKLE_KEYWORDS and not (isinstance(kw.value, ast.Constant)
                                                        and kw.value.value is not PICKLE_KEYWORDS[kw.arg]):
                    problems.append(f"{rel}:{node.lineno}: `{kw.arg}=` other than a literal "
                                    f"{not PICKLE_KEYWORDS[kw.arg]} is refused: unpickling runs code stored in a "
                                    "data file")
    return tree, sorted(problems, key=lambda p: int(p.split(":")[1]))
