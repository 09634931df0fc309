// Importance scores: one number per kernel, higher = more important, as a float32 [A, B] map per
// conv layer (kernel (a, b) at a·B + b). Every strategy gives this shape, so selection never needs
// to know which strategy made it (ascending strategies simply negate their measure).

export interface LayerScores {
  /** [A, B]: the first two dims of the conv weight. */
  shape: [number, number];
  scores: Float32Array;
}

/** Conv weight name → scores. */
export type ImportanceMap = Map<string, LayerScores>;

export const STRATEGIES = ['pss', 'random', 'magnitude', 'magnitude-asc', 'closest-mean', 'l1', 'taylor', 'gate-gradient'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Strategies computed from the weights alone (no model run, no data). */
export const WEIGHT_ONLY_STRATEGIES: readonly Strategy[] = ['random', 'magnitude', 'magnitude-asc', 'closest-mean', 'l1'];

export function assertStrategy(name: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(name)) {
    throw new Error(`unknown importance strategy '${name}': expected one of ${STRATEGIES.join(', ')}`);
  }
  return name as Strategy;
}

export function layerScores(shape: [number, number], scores: Float32Array): LayerScores {
  if (scores.length !== shape[0] * shape[1]) throw new RangeError(`importance: ${scores.length} scores do not fill [${shape.join(', ')}]`);
  return { shape, scores };
}
