// Kernel importance: strategies, data interface and importance files.
export * from './scores.ts';
export * from './data.ts';
export * from './baselines.ts';
export * from './pss.ts';
export * from './taylor.ts';
export * from './io.ts';
