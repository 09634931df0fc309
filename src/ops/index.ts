// Every typed op, one import away: `import * as ops from './ops/index.ts'`.
export * from './dispatch.ts';
export * from './creation.ts';
export * from './shape.ts';
export * from './arithmetic.ts';
export * from './reduction.ts';
export * from './compare.ts';
export * from './indexing.ts';
export * from './loss.ts';
export * from './convert.ts';
export * from './inplace.ts';
export * from './conv.ts';
export * from './norm.ts';
export * from './linear.ts';
export * from './linalg.ts';
export * from './activation.ts';
export * from './pool.ts';
export * from './dropout.ts';
