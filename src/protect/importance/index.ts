// Kernel importance: strategies, the one dispatcher, training data and importance files.
export * from './scores.ts';
export * from './data.ts';
export * from './baselines.ts';
export * from './pss.ts';
export * from './taylor.ts';
export * from './gate-gradient.ts';
export * from './compare.ts';
export * from './io.ts';
export * from './compute.ts';
export * from './training-data.ts';
