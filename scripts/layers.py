#!/usr/bin/env python3
"""Imports against the layers and file circles under src/ (the table in README's Architecture).
Usage: scripts/layers.py [src-dir]. Prints each violation and circle, then the counts.

A file "uses" another when it names it: `crate::a::b`, `super::x`, `self::child`, grouped forms
(`use super::{a, b::c}`), and a `mod.rs` naming its own child (`pub use child::X`). Circles are
counted apart: between files that are not parent and child (sibling circles: the ones to avoid),
and a facade `mod.rs` re-exporting a child that uses the parent's types (the usual Rust shape)."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
allowed = {
    'domain': set(),
    'metrics': {'domain'},
    'backend': {'domain'},
    'audit': {'domain'},
    'notify': {'domain', 'audit'},
    'sim': {'domain', 'metrics', 'backend'},
    'config': {'domain', 'metrics', 'backend', 'paths'},
    'app': {'domain', 'metrics', 'backend', 'audit', 'notify'},
    'ui': {'domain', 'app'},
    'paths': set(),
}
wiring = {'tui', 'setup', 'main', 'cli', 'lib'}
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split(os.sep)
            if parts[-1] == 'mod':
                parts = parts[:-1]
            files['::'.join(parts)] = p
def layer(mod):
    return mod.split('::')[0]
def strip_tests(text):
    i = text.find('#[cfg(test)]')
    return text if i < 0 else text[:i]
uses = {}
for mod, p in files.items():
    text = strip_tests(open(p).read())
    targets = set()
    base = mod.split('::')
    here = [] if mod in ('lib', 'main') else base
    def add(prefix, path):
        targets.add('::'.join(prefix + path.split('::')))
    def expand(prefix, body):
        # `{a, b::{c, d}, e::f}` -> paths under prefix (one level of nesting is enough here)
        depth, cur, parts = 0, '', []
        for ch in body:
            if ch == '{': depth += 1
            if ch == '}': depth -= 1
            if ch == ',' and depth == 0:
                parts.append(cur); cur = ''
            else:
                cur += ch
        parts.append(cur)
        for part in parts:
            part = part.strip()
            m = re.match(r'([A-Za-z_]+(?:::[A-Za-z_]+)*)(?:::\{(.*)\})?', part, re.S)
            if m:
                add(prefix, m.group(1))
                if m.group(2):
                    expand(prefix + m.group(1).split('::'), m.group(2))
    for m in re.finditer(r'crate::\{([^;]*)\}', text):
        expand([], m.group(1))
    for m in re.finditer(r'crate::([A-Za-z_]+(?:::[A-Za-z_]+)*)', text):
        targets.add(m.group(1))
    parent = base[:-1]
    for m in re.finditer(r'\bsuper::\{([^;]*)\}', text):
        expand(parent, m.group(1))
    for m in re.finditer(r'\bsuper::([A-Za-z_]+(?:::[A-Za-z_]+)*)', text):
        add(parent, m.group(1))
    for m in re.finditer(r'\bself::([A-Za-z_]+(?:::[A-Za-z_]+)*)', text):
        add(here, m.group(1))
    # a module naming its own child without `self::` (e.g. `pub use child::X;`)
    for m in re.finditer(r'\buse ([a-z_]+)::', text):
        if '::'.join(here + [m.group(1)]) in files:
            add(here, m.group(1))
    # resolve each path to the longest known module prefix
    res = set()
    for t in targets:
        segs = t.split('::')
        for k in range(len(segs), 0, -1):
            cand = '::'.join(segs[:k])
            if cand in files:
                if cand != mod:
                    res.add(cand)
                break
    uses[mod] = res
bad = []
for mod, targets in uses.items():
    l = layer(mod)
    if l in wiring or l not in allowed:
        continue
    for t in sorted(targets):
        lt = layer(t)
        if lt != l and lt not in allowed[l]:
            bad.append(f'{mod} -> {t}')
pairs = sorted({tuple(sorted((a, b))) for a, ts in uses.items() for b in ts if a in uses.get(b, ())})
def parent_and_child(a, b):
    return a == '::'.join(b.split('::')[:-1]) or b == '::'.join(a.split('::')[:-1])
circles = [p for p in pairs if not parent_and_child(*p)]
facades = [p for p in pairs if parent_and_child(*p)]
for b in bad:
    print('against the layers:', b)
for a, b in circles:
    print('circle:', a, '<->', b)
for a, b in facades:
    print('facade (parent re-exports a child that uses it):', a, '<->', b)
sizes = sorted(((sum(1 for _ in open(p)), m) for m, p in files.items()), reverse=True)[:6]
print(f'imports against the layers: {len(bad)}; file circles: {len(circles)}; '
      f'parent/child facades: {len(facades)}')
print('largest files:', ', '.join(f'{m} {n}' for n, m in sizes))
