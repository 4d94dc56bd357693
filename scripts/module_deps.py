#!/usr/bin/env python3
"""Checks the dependency direction of spf-core's modules (see the top of
spf-core/src/lib.rs) and that no two modules depend on each other.

Every `crate::...` and `super::...` path in a module's source is an edge to
the module that defines the item (a `pub use` re-export in a mod.rs is
followed to the file that defines the item). Checked:

- between top-level modules: every edge must go down the declared order;
- between the files of one module directory: no cycle (a file and the
  mod.rs of its own directory are one unit: mod.rs declares and re-exports).

Usage: scripts/module_deps.py [--print]   (exit 1 on a violation)
"""

from __future__ import annotations

import pathlib
import re
import sys
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parents[1] / "spf-core" / "src"

# The allowed direction: a module may use modules of a lower rank only
# (same rank: neither uses the other).
RANK = {
    "input": 0,
    "macros": 0,
    "error": 0,
    "record": 1,
    "dns": 2,
    "eval": 3,
    "headers": 4,
    "lint": 4,
    "policy": 5,
    "runtime": 5,
    "compiled": 5,
    "checker": 6,
    "lib": 7,
}


def module_of(path: pathlib.Path) -> tuple[str, ...]:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def test_free(text: str) -> str:
    """The source without its `#[cfg(test)] mod tests { ... }` block."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    if not m:
        return text
    depth, i = 1, m.end()
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[: m.start()] + text[i:]


def main() -> int:
    files = sorted(ROOT.rglob("*.rs"))
    sources = {module_of(f): test_free(strip_comments(f.read_text())) for f in files}
    # Items re-exported by a module directory's mod.rs: name -> defining child.
    reexports: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = defaultdict(dict)
    for module, text in sources.items():
        for m in re.finditer(r"pub(?:\(crate\))?\s+use\s+(\w+)::\{?([^;]*?)\}?;", text):
            child = module + (m.group(1),)
            if child in sources:
                for name in re.findall(r"\b(\w+)\b(?:\s+as\s+\w+)?", m.group(2)):
                    reexports[module][name] = child

    def resolve(base: tuple[str, ...], rest: list[str]) -> tuple[str, ...]:
        """The module that defines the item at base::rest."""
        current = base
        for part in rest:
            if current + (part,) in sources:
                current = current + (part,)
            elif part in reexports.get(current, {}):
                return reexports[current][part]
            else:
                break
        return current

    edges: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for module, text in sources.items():
        # `use x::{a, b::{c, d}}` groups: expand the first level.
        for m in re.finditer(r"\b(crate|super)((?:::\w+)+)(?:::\{([^;{}]*)\})?", text):
            if m.group(1) == "crate":
                base: tuple[str, ...] = ()
            else:
                is_dir = (ROOT.joinpath(*module) / "mod.rs").exists()
                base = module if is_dir else module[:-1]
            path = [p for p in m.group(2).split("::") if p]
            targets = [resolve(base, path)]
            if m.group(3):
                for name in re.findall(r"\b\w+\b", m.group(3)):
                    targets.append(resolve(base, path + [name]))
            for target in targets:
                if target and target != module:
                    edges.add((module, target))

    errors = []
    top = lambda m: m[0] if m else "lib"  # noqa: E731
    for a, b in sorted(edges):
        ta, tb = top(a), top(b)
        if ta != tb:
            if ta not in RANK or tb not in RANK:
                errors.append(f"{'/'.join(a)} -> {'/'.join(b)}: a module missing from RANK")
            elif RANK[tb] >= RANK[ta]:
                errors.append(f"{'/'.join(a)} -> {'/'.join(b)}: {ta} may not use {tb}")
    # Cycles among the files of one directory (a directory's mod.rs excluded).
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = defaultdict(set)
    for a, b in edges:
        if len(a) >= 2 and len(b) >= 2 and a[:-1] == b[:-1]:
            graph[a].add(b)
    state: dict[tuple[str, ...], int] = {}

    def visit(node: tuple[str, ...], stack: list[tuple[str, ...]]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                errors.append("cycle: " + " -> ".join("/".join(c) for c in cycle))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [node])
    if "--print" in sys.argv:
        for a, b in sorted(edges):
            print(f"{'/'.join(a) or 'lib'} -> {'/'.join(b) or 'lib'}")
    for error in errors:
        print("module direction:", error, file=sys.stderr)
    if not errors:
        print(f"module direction: {len(sources)} modules, {len(edges)} edges, no cycle, all pointing down")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
