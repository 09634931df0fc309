// Two-sample tests for the experiments, written out here (no dependency): Kolmogorov–Smirnov,
// Welch's t-test, the Brown–Forsythe (median-centred Levene) test of equal variances and the
// classical F-test of equal variances, plus the special functions they need.
//
// p-values:
// - KS: the asymptotic Kolmogorov distribution with Stephens' small-sample correction
//   (Numerical Recipes §14.3): λ = (√nₑ + 0.12 + 0.11/√nₑ)·D, nₑ = n·m/(n + m),
//   p = Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²). Good to about two digits once nₑ ≳ 4; for
//   very small samples it is conservative-ish and only indicative. Ties are handled by stepping
//   over equal values together.
// - Welch: t = (x̄ − ȳ) / √(s²ₓ/n + s²ᵧ/m) with the Welch–Satterthwaite degrees of freedom and the
//   exact Student-t tail through the regularised incomplete beta function (no normal approximation).
// - Brown–Forsythe: one-way ANOVA F on |x − median(group)|, F(k − 1, N − k) tail.
// - F-test: s²ₓ / s²ᵧ against F(n − 1, m − 1), two-sided (assumes normal data: sensitive to tails).
// All p-values are two-sided. Checked against SciPy by experiments/protect/check-stats.ts.

export interface TestResult {
  statistic: number;
  p: number;
}

// ---------------------------------------------------------------------------------------------
// Special functions

const LANCZOS = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = 0.99999999999980993;
  const t = z + 7.5;
  for (let i = 0; i < 8; i++) a += LANCZOS[i] / (z + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const TINY = 1e-300;
  const qab = a + b,
    qap = a + 1,
    qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), a, b > 0, 0 ≤ x ≤ 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) return Number.NaN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Two-sided tail P(|T| ≥ |t|) of Student's t with df degrees of freedom (df may be fractional). */
export function studentTTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? Number.NaN : 0;
  if (!(df > 0)) return Number.NaN;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Upper tail P(F ≥ f) of the F distribution with (d1, d2) degrees of freedom. */
export function fUpperTail(f: number, d1: number, d2: number): number {
  if (Number.isNaN(f)) return Number.NaN;
  if (f <= 0) return 1;
  if (!Number.isFinite(f)) return 0;
  return incompleteBeta(d2 / (d2 + d1 * f), d2 / 2, d1 / 2);
}

/** erfc(x), |relative error| < 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided normal tail P(|Z| ≥ |z|). */
export function normalTwoSided(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²), the Kolmogorov survival function. */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  // For small λ the alternating series converges slowly: use the dual (theta-function) form.
  if (lambda < 1.18) {
    const y = Math.exp(-(Math.PI * Math.PI) / (8 * lambda * lambda));
    // 1 − Q = (√(2π)/λ) Σ_{j odd} exp(−j² π² / (8 λ²))
    let s = 0;
    for (let j = 1; j < 40; j += 2) {
      const term = y ** (j * j);
      s += term;
      if (term < 1e-17) break;
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s));
  }
  let sum = 0;
  let sign = 1;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += sign * term;
    if (term < 1e-17) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

// ---------------------------------------------------------------------------------------------
// Descriptive statistics

export function meanOf(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Unbiased sample variance (n − 1). */
export function varianceOf(x: ArrayLike<number>): number {
  const m = meanOf(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return s / (x.length - 1);
}

export function medianOf(x: ArrayLike<number>): number {
  const s = Float64Array.from(x).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Tests

/** Two-sample Kolmogorov–Smirnov: D = sup |F_x − F_y| and its asymptotic p-value (see top). */
export function ksTest(x: ArrayLike<number>, y: ArrayLike<number>): TestResult {
  const a = Float64Array.from(x).sort();
  const b = Float64Array.from(y).sort();
  const n = a.length,
    m = b.length;
  if (n === 0 || m === 0) return { statistic: Number.NaN, p: Number.NaN };
  let i = 0,
    j = 0,
    d = 0;
  while (i < n && j < m) {
    const v = Math.min(a[i], b[j]);
    while (i < n && a[i] === v) i++;
    while (j < m && b[j] === v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const ne = (n * m) / (n + m);
  const sq = Math.sqrt(ne);
  return { statistic: d, p: kolmogorovQ((sq + 0.12 + 0.11 / sq) * d) };
}

/** Welch's unequal-variance t-test; `df` is the Welch–Satterthwaite degrees of freedom. */
export function welchTest(x: ArrayLike<number>, y: ArrayLike<number>): TestResult & { df: number } {
  const n = x.length,
    m = y.length;
  if (n < 2 || m < 2) return { statistic: Number.NaN, p: Number.NaN, df: Number.NaN };
  const vx = varianceOf(x) / n,
    vy = varianceOf(y) / m;
  const se2 = vx + vy;
  if (se2 === 0) return { statistic: Number.NaN, p: Number.NaN, df: Number.NaN };
  const t = (meanOf(x) - meanOf(y)) / Math.sqrt(se2);
  const df = (se2 * se2) / ((vx * vx) / (n - 1) + (vy * vy) / (m - 1));
  return { statistic: t, p: studentTTwoSided(t, df), df };
}

/** Brown–Forsythe test of equal variances (Levene's test centred on the group medians). */
export function brownForsytheTest(...groups: ArrayLike<number>[]): TestResult {
  const k = groups.length;
  const N = groups.reduce((s, g) => s + g.length, 0);
  if (k < 2 || groups.some((g) => g.length < 2)) return { statistic: Number.NaN, p: Number.NaN };
  const z = groups.map((g) => {
    const med = medianOf(g);
    return Float64Array.from(g, (v) => Math.abs(v - med));
  });
  const means = z.map(meanOf);
  const grand = z.reduce((s, g) => s + g.reduce((a, b) => a + b, 0), 0) / N;
  let between = 0,
    within = 0;
  z.forEach((g, i) => {
    between += g.length * (means[i] - grand) ** 2;
    for (const v of g) within += (v - means[i]) ** 2;
  });
  if (within === 0) return { statistic: Number.NaN, p: Number.NaN };
  const w = ((N - k) / (k - 1)) * (between / within);
  return { statistic: w, p: fUpperTail(w, k - 1, N - k) };
}

/** Classical two-sided F-test of equal variances, F = s²ₓ / s²ᵧ (assumes normal samples). */
export function fTest(x: ArrayLike<number>, y: ArrayLike<number>): TestResult {
  const n = x.length,
    m = y.length;
  if (n < 2 || m < 2) return { statistic: Number.NaN, p: Number.NaN };
  const f = varianceOf(x) / varianceOf(y);
  const upper = fUpperTail(f, n - 1, m - 1);
  return { statistic: f, p: Math.min(1, 2 * Math.min(upper, 1 - upper)) };
}
