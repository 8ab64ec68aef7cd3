#!/usr/bin/env python3
"""Fails when modules of one crate import each other in a cycle.

For every crate under crates/, each module (a file, or a directory with
mod.rs) is a node; `crate::a::b`, `super::x` and `self::x` paths in its code
(in `use` trees and written out in expressions) are edges to the deepest
module they name. An edge is lifted to the two sibling modules below the
lowest common ancestor of its ends, so `a::x -> b::y` counts as `a -> b`; a
parent and its own descendants never form a cycle. Any strongly connected
group of siblings with more than one member is reported. Test code
(`#[cfg(test)]` modules, `tests.rs`, `tests/` directories) and comments are
left out: tests may reach anywhere.

Usage: .ci/module_cycles.py [repo root]; exit status 1 on a cycle.
       .ci/module_cycles.py --self-test  (checks the checker on a made-up crate)
Standard library only, and fast (a regex pass over each file).
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
MOD_DECL = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;")
USE_STMT = re.compile(r"\buse\s+((?:crate|super|self)\s*::[^;]*);", re.S)
PUB_USE = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]*);", re.S)
PATH_EXPR = re.compile(r"\b((?:crate|super|self)(?:\s*::\s*" + IDENT + r")+)")
CFG_TEST_MOD = re.compile(
    r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+"
    + IDENT
    + r"\s*(;|\{)"
)


def strip_comments_and_strings(src):
    """Blanks out comments, string and char literals (keeps line breaks)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and not (
            i and (src[i - 1].isalnum() or src[i - 1] == "_")
        ):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            m = re.match(r"'(?:\\.[^']*|[^'\\])'", src[i:i + 12])
            if m:
                i += m.end()
                out.append("' '")
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_modules(code):
    """Removes inline `#[cfg(test)] mod x { ... }` bodies."""
    while True:
        m = CFG_TEST_MOD.search(code)
        if not m:
            return code
        if m.group(1) == ";":
            code = code[: m.start()] + code[m.end():]
            continue
        depth, j = 1, m.end()
        while j < len(code) and depth:
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
            j += 1
        code = code[: m.start()] + code[j:]


def expand_use_tree(tree):
    """`crate::{a::{b, c}, d}` -> ['crate::a::b', 'crate::a::c', 'crate::d'];
    an alias stays as `path@alias`."""
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree)
    paths = []

    def walk(prefix, text):
        # Split text at top-level commas.
        parts, depth, cur = [], 0, ""
        for ch in text:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        for part in parts:
            if not part:
                continue
            brace = part.find("{")
            if brace >= 0 and part.endswith("}"):
                walk(prefix + part[:brace], part[brace + 1:-1])
            else:
                paths.append(prefix + part)

    walk("", tree)
    return paths


def crate_modules(src_dir):
    """Maps module path tuples to their file, walking `mod x;` from the roots."""
    modules = {}
    roots = [f for f in ("lib.rs", "main.rs") if os.path.exists(os.path.join(src_dir, f))]

    def visit(path, file, dir_for_children):
        modules[path] = file
        with open(file, encoding="utf-8") as fh:
            code = drop_test_modules(strip_comments_and_strings(fh.read()))
        for name in MOD_DECL.findall(code):
            if name in ("tests", "test"):
                continue
            for cand, sub in (
                (os.path.join(dir_for_children, name + ".rs"), os.path.join(dir_for_children, name)),
                (os.path.join(dir_for_children, name, "mod.rs"), os.path.join(dir_for_children, name)),
            ):
                if os.path.exists(cand):
                    visit(path + (name,), cand, sub)
                    break

    for root in roots:
        visit((), os.path.join(src_dir, root), src_dir)
    return modules


def resolve(module, path, known, reexports=None):
    """The module that defines what `path` names as seen from `module`: the
    deepest known module on the path, followed through `pub use` re-exports
    (`crate::Engine` is `engine` when the root re-exports `engine::Engine`)."""
    path = path.split("@", 1)[0]
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = module
        rest = segs
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    elif module + (segs[0],) in known:
        base, rest = module, segs  # `use child::X`, relative to `module`
    else:
        return None
    target = base
    for hops in range(len(rest) + 8):
        if not rest:
            break
        s = rest[0]
        if target + (s,) in known:
            target, rest = target + (s,), rest[1:]
        elif reexports and s in reexports.get(target, {}) and hops < len(rest) + 7:
            target, rest = reexports[target][s], rest[1:]
        else:
            break
    return target


def cycles_in_crate(src_dir):
    modules = crate_modules(src_dir)
    known = set(modules)
    codes = {}
    for module, file in modules.items():
        with open(file, encoding="utf-8") as fh:
            codes[module] = drop_test_modules(strip_comments_and_strings(fh.read()))
    # Names each module re-exports with `pub use`, and the module they are from.
    reexports = {}
    for module, code in codes.items():
        for tree in PUB_USE.findall(code):
            for path in expand_use_tree(tree):
                name = path.split("@", 1)[-1].split("::")[-1]
                if name in ("*", "self") or not re.fullmatch(IDENT, name):
                    continue
                target = resolve(module, path.split("@", 1)[0], known)
                if target is not None and target != module:
                    reexports.setdefault(module, {})[name] = target
    edges = {}  # parent -> {child: set(child)}
    why = {}  # (parent, a, b) -> first "file: ref" that made the edge
    for module, file in modules.items():
        code = codes[module]
        refs = []
        for tree in USE_STMT.findall(code):
            refs.extend(expand_use_tree(tree))
        code_wo_use = USE_STMT.sub(" ", code)
        refs.extend(re.sub(r"\s+", "", p) for p in PATH_EXPR.findall(code_wo_use))
        for ref in refs:
            target = resolve(module, ref, known, reexports)
            if target is None:
                continue
            k = 0
            while k < min(len(module), len(target)) and module[k] == target[k]:
                k += 1
            if k == len(module) or k == len(target):
                continue  # one contains the other
            parent = module[:k]
            edges.setdefault(parent, {}).setdefault(module[k], set()).add(target[k])
            why.setdefault((parent, module[k], target[k]), f"{file}: {ref}")
    found = []
    for parent, graph in edges.items():
        for scc in strongly_connected(graph):
            if len(scc) > 1:
                inside = [
                    f"{a} -> {b} ({why[(parent, a, b)]})"
                    for a in sorted(scc)
                    for b in sorted(graph.get(a, ()))
                    if b in scc
                ]
                found.append((parent, sorted(scc), inside))
    return found


def strongly_connected(graph):
    """Tarjan's algorithm, iterative."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    nodes = set(graph) | {v for vs in graph.values() for v in vs}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                scc = []
                while True:
                    v = stack.pop()
                    on_stack.discard(v)
                    scc.append(v)
                    if v == node:
                        break
                result.append(scc)
    return result


def self_test():
    """Checks the checker on a made-up crate: it must find the cycle hidden
    behind a root re-export and a `super::` path, and ignore a parent and
    child using each other, comments, strings and test modules."""
    import tempfile

    files = {
        "lib.rs": "mod a;\nmod b;\nmod c;\npub use b::Thing;\n",
        "a.rs": "mod inner;\nuse crate::Thing;\n",
        "a/inner.rs": "use super::super::c::Other;\nuse crate::a::helper;\n",
        "b.rs": "pub struct Thing;\nfn g() { crate::a::inner::go(); }\n",
        "c.rs": "pub struct Other;\n#[cfg(test)]\nmod tests {\n    use crate::a::helper;\n}\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(os.path.join(src, "a"))
        for name, text in files.items():
            with open(os.path.join(src, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        found = [(parent, scc) for parent, scc, _ in cycles_in_crate(src)]
        assert found == [((), ["a", "b"])], found
        # Without b's call into a, nothing is left: a -> c and a -> b only;
        # a path in a comment or a string is no import.
        with open(os.path.join(src, "b.rs"), "w", encoding="utf-8") as fh:
            fh.write('pub struct Thing; // crate::a::x\nconst S: &str = "crate::a::y";\n')
        assert cycles_in_crate(src) == [], cycles_in_crate(src)


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        print("module_cycles.py: self-test passed")
        return
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.relpath(root)
    crates = os.path.join(root, "crates")
    bad = 0
    for name in sorted(os.listdir(crates)):
        src = os.path.join(crates, name, "src")
        if not os.path.isdir(src):
            continue
        for parent, scc, inside in cycles_in_crate(src):
            where = "::".join(("crate",) + parent)
            print(f"module cycle in crates/{name}: {where}::{{{', '.join(scc)}}}")
            for edge in inside:
                print(f"    {edge}")
            bad += 1
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
