#!/usr/bin/env python3
"""Imports against the layers and file circles under src/ (DEVELOPERS.md's table).
Usage: scripts/layers.py [src-dir]. Prints each violation and circle, then the counts."""
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
    for m in re.finditer(r'crate::([a-z_]+(?:::[a-z_]+)*)', text):
        targets.add(m.group(1))
    base = mod.split('::')
    for m in re.finditer(r'\bsuper::([a-z_]+(?:::[a-z_]+)*)', text):
        parent = base[:-1]
        targets.add('::'.join(parent + [m.group(1)]) if parent else m.group(1))
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
circles = sorted({tuple(sorted((a, b))) for a, ts in uses.items() for b in ts if a in uses.get(b, ())})
for b in bad:
    print('against the layers:', b)
for a, b in circles:
    print('circle:', a, '<->', b)
sizes = sorted(((sum(1 for _ in open(p)), m) for m, p in files.items()), reverse=True)[:6]
print(f'imports against the layers: {len(bad)}; file circles: {len(circles)}')
print('largest files:', ', '.join(f'{m} {n}' for n, m in sizes))
