// Deterministic dense float64 and mod-256 matrix code (key generation and the attacks).
export * from './matrix.ts';
export * from './logistic.ts';
