// Small dense matrices in plain JavaScript float64 (row-major Float64Array, n×n unless said).
//
// Key derivation runs here rather than in libtorch on purpose: IEEE double arithmetic in V8 is the
// same on every machine (no fused multiply-add, correctly rounded sqrt), so a secret regenerates
// bit-identical matrices and the same accept/reject decisions everywhere, whatever BLAS or LAPACK
// libtorch was built with. The matrices are at most 256×256 (k ≤ 16), so speed is no concern.

export type Matrix = Float64Array;

export function identity(n: number): Matrix {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/** (n×m)·(m×p). */
export function matmul(a: Matrix, b: Matrix, n: number, m: number, p: number): Matrix {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let l = 0; l < m; l++) {
      const v = a[i * m + l];
      if (v === 0) continue;
      const bo = l * p;
      const oo = i * p;
      for (let j = 0; j < p; j++) out[oo + j] += v * b[bo + j];
    }
  }
  return out;
}

/** (n×n)·v. */
export function matVec(a: Matrix, v: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += a[i * n + j] * v[j];
  return out;
}

export function transpose(a: Matrix, n: number, m = n): Matrix {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = a[i * m + j];
  return out;
}

/** The inverse by Gauss–Jordan elimination with partial pivoting; null when a pivot is exactly 0. */
export function inverse(a: Matrix, n: number): Matrix | null {
  const w = Float64Array.from(a);
  const inv = identity(n);
  for (let col = 0; col < n; col++) {
    let piv = col;
    let best = Math.abs(w[col * n + col]);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(w[r * n + col]);
      if (v > best) {
        best = v;
        piv = r;
      }
    }
    if (best === 0) return null;
    if (piv !== col) {
      swapRows(w, n, piv, col);
      swapRows(inv, n, piv, col);
    }
    const d = w[col * n + col];
    for (let j = 0; j < n; j++) {
      w[col * n + j] /= d;
      inv[col * n + j] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = w[r * n + col];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        w[r * n + j] -= f * w[col * n + j];
        inv[r * n + j] -= f * inv[col * n + j];
      }
    }
  }
  return inv;
}

function swapRows(m: Matrix | Int32Array, n: number, a: number, b: number): void {
  for (let j = 0; j < n; j++) {
    const t = m[a * n + j];
    m[a * n + j] = m[b * n + j];
    m[b * n + j] = t;
  }
}

/** log|det| and the sign of det, by LU with partial pivoting (sign 0 for a singular matrix). */
export function logAbsDet(a: Matrix, n: number): { logAbs: number; sign: number } {
  const w = Float64Array.from(a);
  let logAbs = 0;
  let sign = 1;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(w[r * n + col]) > Math.abs(w[piv * n + col])) piv = r;
    const d = w[piv * n + col];
    if (d === 0) return { logAbs: -Infinity, sign: 0 };
    if (piv !== col) {
      swapRows(w, n, piv, col);
      sign = -sign;
    }
    if (d < 0) sign = -sign;
    logAbs += Math.log(Math.abs(d));
    for (let r = col + 1; r < n; r++) {
      const f = w[r * n + col] / d;
      if (f === 0) continue;
      for (let j = col; j < n; j++) w[r * n + j] -= f * w[col * n + j];
    }
  }
  return { logAbs, sign };
}

/**
 * Singular values, largest first, by one-sided Jacobi (Hestenes) rotations: accurate to a few ulps
 * relative to each value, so tiny singular values (what makes a key ill-conditioned) are trusted.
 */
export function singularValues(a: Matrix, n: number): Float64Array {
  // Columns as separate arrays: every rotation works on two whole columns.
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(n);
    for (let i = 0; i < n; i++) c[i] = a[i * n + j];
    cols.push(c);
  }
  const eps = 2.220446049250313e-16;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const cp = cols[p];
      for (let q = p + 1; q < n; q++) {
        const cq = cols[q];
        let alpha = 0,
          beta = 0,
          gamma = 0;
        for (let i = 0; i < n; i++) {
          alpha += cp[i] * cp[i];
          beta += cq[i] * cq[i];
          gamma += cp[i] * cq[i];
        }
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < n; i++) {
          const x = cp[i];
          const y = cq[i];
          cp[i] = c * x - s * y;
          cq[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += cols[j][i] * cols[j][i];
    out[j] = Math.sqrt(s);
  }
  return out.sort().reverse();
}

/** σmax/σmin in the 2-norm (Infinity for a singular matrix). */
export function conditionNumber(a: Matrix, n: number): number {
  const s = singularValues(a, n);
  const min = s[n - 1];
  return min === 0 ? Infinity : s[0] / min;
}

/**
 * The Q of a Householder QR of a, with each column's sign fixed so that R has a positive
 * diagonal: for a Gaussian a this Q is Haar-distributed (Mezzadri 2007), i.e. a uniformly random
 * orthogonal matrix. Returns null when a column is exactly dependent.
 */
export function orthogonalFromQr(a: Matrix, n: number): Matrix | null {
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  const diagSign = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let norm2 = 0;
    for (let i = k; i < n; i++) norm2 += r[i * n + k] * r[i * n + k];
    const norm = Math.sqrt(norm2);
    if (norm === 0) return null;
    const x0 = r[k * n + k];
    const alpha = x0 >= 0 ? -norm : norm; // R[k][k] = alpha after the reflection
    const v = new Float64Array(n);
    v[k] = x0 - alpha;
    for (let i = k + 1; i < n; i++) v[i] = r[i * n + k];
    let vv = 0;
    for (let i = k; i < n; i++) vv += v[i] * v[i];
    if (vv > 0) {
      for (let j = k; j < n; j++) {
        let d = 0;
        for (let i = k; i < n; i++) d += v[i] * r[i * n + j];
        const f = (2 * d) / vv;
        for (let i = k; i < n; i++) r[i * n + j] -= f * v[i];
      }
    }
    vs.push(v);
    diagSign[k] = r[k * n + k] >= 0 ? 1 : -1;
  }
  // Q = H0 H1 ... H(n-1): apply the reflections in reverse to the identity.
  const q = identity(n);
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    let vv = 0;
    for (let i = k; i < n; i++) vv += v[i] * v[i];
    if (vv === 0) continue;
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let i = k; i < n; i++) d += v[i] * q[i * n + j];
      const f = (2 * d) / vv;
      for (let i = k; i < n; i++) q[i * n + j] -= f * v[i];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q[i * n + j] *= diagSign[j];
  return q;
}

/** max |aᵀa − I|: how far from orthogonal. */
export function orthogonalityError(a: Matrix, n: number): number {
  const g = matmul(transpose(a, n), a, n, n, n);
  let worst = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(g[i * n + j] - (i === j ? 1 : 0)));
  return worst;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

// ---- arithmetic mod 256 ----

const INVERSE_MOD_256 = (() => {
  const t = new Int32Array(256).fill(-1);
  for (let a = 1; a < 256; a += 2) for (let b = 1; b < 256; b += 2) if ((a * b) % 256 === 1) t[a] = b;
  return t;
})();

/** The inverse of an odd number mod 256 (even numbers have none: -1). */
export function inverseMod256(a: number): number {
  return INVERSE_MOD_256[((a % 256) + 256) % 256];
}

const mod256 = (x: number) => ((x % 256) + 256) % 256;

export interface ModResult {
  /** The inverse mod 256 (entries 0..255), or null when there is none. */
  inverse: Int32Array | null;
  /** det mod 256 (0..255): odd exactly when the matrix is invertible mod 256. */
  det: number;
}

/**
 * Inverse mod 256 by Gauss–Jordan elimination with odd (unit) pivots. A matrix over Z/256 is
 * invertible exactly when its determinant is odd, i.e. when it is invertible mod 2.
 */
export function inverseMod256Matrix(a: ArrayLike<number>, n: number): ModResult {
  const w = Int32Array.from(a, mod256);
  const inv = new Int32Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  let det = 1;
  for (let col = 0; col < n; col++) {
    let piv = -1;
    for (let r = col; r < n; r++) {
      if (w[r * n + col] & 1) {
        piv = r;
        break;
      }
    }
    if (piv < 0) return { inverse: null, det: evenDetMod256(a, n) };
    if (piv !== col) {
      swapRows(w, n, piv, col);
      swapRows(inv, n, piv, col);
      det = mod256(-det);
    }
    const p = w[col * n + col];
    det = (det * p) % 256;
    const pi = INVERSE_MOD_256[p];
    for (let j = 0; j < n; j++) {
      w[col * n + j] = (w[col * n + j] * pi) % 256;
      inv[col * n + j] = (inv[col * n + j] * pi) % 256;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = w[r * n + col];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        w[r * n + j] = mod256(w[r * n + j] - f * w[col * n + j]);
        inv[r * n + j] = mod256(inv[r * n + j] - f * inv[col * n + j]);
      }
    }
  }
  return { inverse: inv, det };
}

/** det mod 256 of a matrix that is singular mod 2, by exact integer elimination (BigInt). */
function evenDetMod256(a: ArrayLike<number>, n: number): number {
  // Bareiss fraction-free elimination keeps every entry an integer (a minor of a).
  const m: bigint[] = Array.from(a, (v) => BigInt(mod256(v)));
  let sign = 1n;
  let prev = 1n;
  for (let k = 0; k < n - 1; k++) {
    if (m[k * n + k] === 0n) {
      let r = k + 1;
      while (r < n && m[r * n + k] === 0n) r++;
      if (r === n) return 0;
      for (let j = 0; j < n; j++) {
        const t = m[k * n + j];
        m[k * n + j] = m[r * n + j];
        m[r * n + j] = t;
      }
      sign = -sign;
    }
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) m[i * n + j] = (m[i * n + j] * m[k * n + k] - m[i * n + k] * m[k * n + j]) / prev;
    }
    prev = m[k * n + k];
  }
  const det = sign * m[n * n - 1];
  return Number(((det % 256n) + 256n) % 256n);
}

/** (n×m)·(m×p) mod 256, entries 0..255. */
export function matmulMod256(a: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number, p: number): Int32Array {
  const out = new Int32Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let l = 0; l < m; l++) s += a[i * m + l] * b[l * p + j];
      out[i * p + j] = mod256(s);
    }
  }
  return out;
}

export interface ModSolve {
  /** X (m×p, entries 0..255) with A·X ≡ B (mod 256), or null when A's rows do not determine it. */
  solution: Int32Array | null;
  /** Columns of A that found a unit pivot (m when A has a left inverse mod 256). */
  rank: number;
  /** Whether the rows left over after elimination agree with the solution (0 ≡ 0). */
  consistent: boolean;
}

/**
 * Solves A·X ≡ B (mod 256) for X, A of n×m with n ≥ m, B of n×p: Gauss–Jordan with odd pivots.
 * X is determined exactly when some m rows of A form a matrix invertible mod 256; then the
 * leftover rows must reduce to 0 = 0 for the data to be consistent.
 */
export function solveMod256(a: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number, p: number): ModSolve {
  const w = Int32Array.from(a, mod256);
  const r = Int32Array.from(b, mod256);
  let rank = 0;
  for (let col = 0; col < m; col++) {
    let piv = -1;
    for (let row = rank; row < n; row++) {
      if (w[row * m + col] & 1) {
        piv = row;
        break;
      }
    }
    if (piv < 0) continue;
    if (piv !== rank) {
      for (let j = 0; j < m; j++) [w[piv * m + j], w[rank * m + j]] = [w[rank * m + j], w[piv * m + j]];
      for (let j = 0; j < p; j++) [r[piv * p + j], r[rank * p + j]] = [r[rank * p + j], r[piv * p + j]];
    }
    const pi = INVERSE_MOD_256[w[rank * m + col]];
    for (let j = 0; j < m; j++) w[rank * m + j] = (w[rank * m + j] * pi) % 256;
    for (let j = 0; j < p; j++) r[rank * p + j] = (r[rank * p + j] * pi) % 256;
    for (let row = 0; row < n; row++) {
      if (row === rank) continue;
      const f = w[row * m + col];
      if (f === 0) continue;
      for (let j = 0; j < m; j++) w[row * m + j] = mod256(w[row * m + j] - f * w[rank * m + j]);
      for (let j = 0; j < p; j++) r[row * p + j] = mod256(r[row * p + j] - f * r[rank * p + j]);
    }
    rank++;
  }
  if (rank < m) return { solution: null, rank, consistent: true };
  let consistent = true;
  for (let row = m; row < n && consistent; row++) {
    for (let j = 0; j < m; j++) if (w[row * m + j] !== 0) consistent = false;
    for (let j = 0; j < p; j++) if (r[row * p + j] !== 0) consistent = false;
  }
  return { solution: r.slice(0, m * p), rank, consistent };
}

/**
 * The orthogonal matrix nearest to a (in the Frobenius norm: the polar factor), by the Newton
 * iteration X ← (X + X⁻ᵀ)/2, which converges quadratically from a nearly orthogonal start (e.g. an
 * orthogonal key estimated with rounding error). Null when an iterate is singular.
 */
export function nearestOrthogonal(a: Matrix, n: number): Matrix | null {
  let x = Float64Array.from(a);
  for (let it = 0; it < 50; it++) {
    const inv = inverse(x, n);
    if (!inv) return null;
    const invT = transpose(inv, n);
    const next = new Float64Array(n * n);
    let change = 0;
    for (let i = 0; i < n * n; i++) {
      next[i] = (x[i] + invT[i]) / 2;
      change = Math.max(change, Math.abs(next[i] - x[i]));
    }
    x = next;
    if (change < 1e-15) break;
  }
  return x;
}
