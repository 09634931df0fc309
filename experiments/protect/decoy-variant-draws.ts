// Decoy variants for the scratch bench decoy-variants.ts: how src/protect/decoys/resample.ts was
// chosen, one change at a time. Not the library's decoys (those are drawDecoys'); nothing imports this.
import { type DecoyRandom, drawDecoys } from '../../src/protect/decoys.ts';
import { medianPolish } from '../../src/protect/decoys/context.ts';
import { genuineKernelFit } from '../../src/protect/decoys/gaussian.ts';

type Draw = (values: Float64Array, shape: readonly [number, number, number, number], planted: Uint8Array, random: DecoyRandom) => Float64Array;

interface Opts {
  size: 'context' | 'donor' | 'colOnly';
  donor: 'layer' | 'row' | 'col' | 'rowcol';
  turn: number;
  noise: 'gauss' | 'donor';
  /** Set the decoy's L2 norm to the donor's, moved to the decoy's row and column. */
  matchL2?: boolean;
  /** Shrink the context difference by this factor (1 = none). */
  shrink?: number;
  /** Draw this many turns and keep the one whose whitened radius is nearest the target. */
  candidates?: number;
}

function variant(o: Opts): Draw {
  return (values, shape, replaced, rng) => {
    const [a, b, kh, kw] = shape;
    const ks = kh * kw;
    const kernels = a * b;
    const { kept, mean, l, donors, order } = genuineKernelFit(values, kernels, ks, replaced);
    const logNorm = new Float64Array(kernels);
    for (let k = 0; k < kernels; k++) {
      let s2 = 0;
      for (let i = 0; i < ks; i++) s2 += values[k * ks + i] ** 2;
      logNorm[k] = Math.log(Math.sqrt(s2) + 1e-30);
    }
    const fit = medianPolish(logNorm, a, b, kept);
    const ctx = (k: number) => fit.row[Math.floor(k / b)] + fit.col[k % b];
    const rowDonors: number[][] = Array.from({ length: a }, () => []);
    const colDonors: number[][] = Array.from({ length: b }, () => []);
    for (const d of donors) {
      rowDonors[Math.floor(d / b)].push(d);
      colDonors[d % b].push(d);
    }
    const whiten = (k: number, y: Float64Array) => {
      let r = 0;
      for (let i = 0; i < ks; i++) {
        let s = values[k * ks + i] - mean[i];
        for (let q = 0; q < i; q++) s -= l[i * ks + q] * y[q];
        y[i] = s / l[i * ks + i];
        r += y[i] * y[i];
      }
      return Math.sqrt(r) || 1;
    };
    const out = new Float64Array(order.length * ks);
    const y = new Float64Array(ks);
    const y2 = new Float64Array(ks);
    const u = new Float64Array(ks);
    order.forEach((k, j) => {
      let pool = donors;
      const ra = rowDonors[Math.floor(k / b)];
      const cb = colDonors[k % b];
      if (o.donor === 'row' && ra.length >= 2) pool = ra;
      if (o.donor === 'col' && cb.length >= 2) pool = cb;
      if (o.donor === 'rowcol') {
        const pick = rng.int(2);
        if (pick === 0 && ra.length >= 2) pool = ra;
        else if (cb.length >= 2) pool = cb;
      }
      const d = pool[rng.int(pool.length)];
      const radius = whiten(d, y);
      let rescale = 1;
      if (o.size === 'context') rescale = Math.exp(ctx(k) - ctx(d));
      if (o.shrink !== undefined) rescale = rescale ** o.shrink;
      const target = rescale * Math.exp(logNorm[d]);
      let best = Number.POSITIVE_INFINITY;
      const cand = new Float64Array(ks);
      const targetRadius = Math.log(radius * rescale);
      for (let c = 0; c < (o.candidates ?? 1); c++) {
        let z: Float64Array;
        if (o.noise === 'gauss') z = rng.normal(ks);
        else {
          const e = donors[rng.int(donors.length)];
          const re = whiten(e, y2);
          z = Float64Array.from(y2, (v) => (v / re) * Math.sqrt(ks) * (rng.int(2) ? 1 : -1));
        }
        let norm = 0;
        for (let i = 0; i < ks; i++) {
          u[i] = y[i] / radius + (o.turn * z[i]) / Math.sqrt(ks);
          norm += u[i] * u[i];
        }
        const size = radius / (Math.sqrt(norm) || 1);
        let n2 = 0;
        for (let i = 0; i < ks; i++) {
          let x = mean[i];
          for (let q = 0; q <= i; q++) x += l[i * ks + q] * size * u[q];
          cand[i] = rescale * x;
          n2 += cand[i] ** 2;
        }
        if (o.matchL2) {
          const f = target / (Math.sqrt(n2) || 1);
          for (let i = 0; i < ks; i++) cand[i] *= f;
        }
        let miss = 0;
        if ((o.candidates ?? 1) > 1) {
          // whitened radius of the candidate
          let r2 = 0;
          for (let i = 0; i < ks; i++) {
            let s = cand[i] - mean[i];
            for (let q = 0; q < i; q++) s -= l[i * ks + q] * y2[q];
            y2[i] = s / l[i * ks + i];
            r2 += y2[i] ** 2;
          }
          miss = Math.abs(0.5 * Math.log(r2 + 1e-300) - targetRadius);
        }
        if (miss < best) {
          best = miss;
          out.set(cand, j * ks);
        }
      }
    });
    return out;
  };
}

/**
 * The variants behind src/protect/decoys/resample.ts's choices: 'r-ctx' is 0.3's resample exactly
 * (checked: the same figures as drawDecoys' 'resample' before the change), then one change at a time.
 */
export const VARIANTS: Record<string, Draw> = {
  /** The library's default decoys as they are now. */
  resample: (v, s, p, r) => drawDecoys(v, s, p, r, 'resample'),
  context: (v, s, p, r) => drawDecoys(v, s, p, r, 'context'),
  'r-ctx': variant({ size: 'context', donor: 'layer', turn: 1, noise: 'gauss' }),
  'r-donorsize': variant({ size: 'donor', donor: 'layer', turn: 1, noise: 'gauss' }),
  'r-l2': variant({ size: 'context', donor: 'layer', turn: 1, noise: 'gauss', matchL2: true }),
  'r-l2-t14': variant({ size: 'context', donor: 'layer', turn: 1.4, noise: 'gauss', matchL2: true }),
  'r-l2-dn': variant({ size: 'context', donor: 'layer', turn: 1, noise: 'donor', matchL2: true }),
  'r-l2-donorsize': variant({ size: 'donor', donor: 'layer', turn: 1, noise: 'gauss', matchL2: true }),
  'r-l2-c8': variant({ size: 'context', donor: 'layer', turn: 1, noise: 'gauss', matchL2: true, candidates: 8 }),
};
