// Checks experiments/lib/stats.ts against SciPy (python3 with scipy): the same samples through
// both, statistics and p-values side by side. Exits 1 on a disagreement beyond the tolerances.
//
//   node --import tsx experiments/protect/check-stats.ts
import { spawnSync } from 'node:child_process';
import { brownForsytheTest, fTest, ksTest, welchTest } from '../lib/stats.ts';

// A small deterministic generator (mulberry32 + Box–Muller) so the check needs no engine.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normals(n: number, mean: number, sd: number, r: () => number): number[] {
  return Array.from({ length: n }, () => mean + sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

const r = rng(7);
const cases: { x: number[]; y: number[] }[] = [
  { x: normals(5, 0, 1, r), y: normals(40, 0, 1, r) },
  { x: normals(30, 0.3, 1, r), y: normals(300, 0, 1, r) },
  { x: normals(200, 0, 1.3, r), y: normals(4000, 0, 1, r) },
  { x: normals(12, 0.1, 0.5, r), y: normals(9, 0, 2, r) },
  { x: normals(250, 0.05, 1, r), y: normals(3800, 0, 1, r) },
];
const py = `
import json, sys
from scipy import stats
out = []
for c in json.load(sys.stdin):
    x, y = c['x'], c['y']
    ks = stats.ks_2samp(x, y, method='asymp')
    w = stats.ttest_ind(x, y, equal_var=False)
    l = stats.levene(x, y, center='median')
    import numpy as np
    f = np.var(x, ddof=1) / np.var(y, ddof=1)
    up = stats.f.sf(f, len(x) - 1, len(y) - 1)
    out.append(dict(ks=[ks.statistic, ks.pvalue], welch=[w.statistic, w.pvalue], bf=[l.statistic, l.pvalue], f=[f, min(1, 2 * min(up, 1 - up))]))
print(json.dumps(out))
`;
const res = spawnSync('python3', ['-c', py], { input: JSON.stringify(cases), encoding: 'utf8' });
if (res.status !== 0) {
  console.error(`python3 with scipy is needed for this check: ${res.stderr}`);
  process.exit(2);
}
const ref = JSON.parse(res.stdout) as Record<string, [number, number]>[];
let bad = 0;
cases.forEach((c, i) => {
  const ours = { ks: ksTest(c.x, c.y), welch: welchTest(c.x, c.y), bf: brownForsytheTest(c.x, c.y), f: fTest(c.x, c.y) };
  for (const [name, o] of Object.entries(ours)) {
    const [s, p] = ref[i][name];
    // KS p-values: ours has Stephens' correction, SciPy's 'asymp' does not: allow a looser match.
    const pTol = name === 'ks' ? 0.25 : 1e-6;
    const sOk = Math.abs(o.statistic - s) <= 1e-9 * Math.max(1, Math.abs(s));
    const pOk = Math.abs(o.p - p) <= pTol * Math.max(p, 1e-3);
    if (!sOk || !pOk) bad++;
    console.log(
      `case ${i} (n=${c.x.length}, m=${c.y.length}) ${name.padEnd(5)} statistic ${o.statistic.toPrecision(8)} vs ${s.toPrecision(8)}  p ${o.p.toPrecision(6)} vs SciPy ${p.toPrecision(6)} ${sOk && pOk ? 'ok' : 'MISMATCH'}`,
    );
  }
});
if (bad) {
  console.error(`${bad} mismatch(es)`);
  process.exit(1);
}
console.log('stats.ts agrees with SciPy');
