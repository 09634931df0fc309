// Logistic regression by Newton's method (IRLS) with a small ridge, in plain float64 JavaScript
// like the rest of src/linalg, so a fit is bit-identical on every machine: the attacker's decoy
// classifier (src/audit) and the decoys' own density-ratio draw (src/protect/decoys/matched.ts)
// both fit one.

/** Solves the symmetric positive-definite system A·x = b (Gaussian elimination; A is small). */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (p !== c) {
      for (let j = 0; j < n; j++) [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      if (f === 0) continue;
      for (let j = c; j < n; j++) m[r * n + j] -= f * m[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let s = x[c];
    for (let j = c + 1; j < n; j++) s -= m[c * n + j] * x[j];
    x[c] = s / m[c * n + c];
  }
  return x;
}

const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

/** Logistic regression by Newton's method (IRLS), classes weighted to equal total weight. */
export function fitLogistic(rows: Float64Array[], labels: Uint8Array, ridge = 1e-3, iterations = 25): Float64Array {
  const d = rows[0].length;
  let w = new Float64Array(d);
  const pos = labels.reduce((s, y) => s + y, 0);
  const wPos = rows.length / (2 * Math.max(1, pos));
  const wNeg = rows.length / (2 * Math.max(1, rows.length - pos));
  for (let it = 0; it < iterations; it++) {
    const h = new Float64Array(d * d);
    const g = new Float64Array(d);
    for (let i = 0; i < rows.length; i++) {
      const x = rows[i];
      let t = 0;
      for (let j = 0; j < d; j++) t += w[j] * x[j];
      const p = sigmoid(t);
      const c = labels[i] ? wPos : wNeg;
      const r = c * (p - labels[i]);
      const s = c * Math.max(p * (1 - p), 1e-9);
      for (let j = 0; j < d; j++) {
        g[j] += r * x[j];
        for (let q = 0; q <= j; q++) h[j * d + q] += s * x[j] * x[q];
      }
    }
    for (let j = 0; j < d; j++) {
      for (let q = 0; q < j; q++) h[q * d + j] = h[j * d + q];
      h[j * d + j] += ridge * rows.length;
      g[j] += ridge * rows.length * w[j];
    }
    const step = solve(h, g, d);
    let change = 0;
    w = w.map((v, j) => {
      change = Math.max(change, Math.abs(step[j]));
      return v - step[j];
    });
    if (change < 1e-8) break;
  }
  return w;
}
