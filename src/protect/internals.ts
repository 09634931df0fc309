// Every part of the protection feature, for the tests and experiments that study the parts
// (selection, decoys, tiers, the file format). Applications import src/protect/index.ts.
export * from './layers.ts';
export * from './importance/index.ts';
export * from './selection.ts';
export * from './decoys.ts';
export * from './tiers.ts';
export * from './format.ts';
export * from './protect.ts';
export * from './unlock.ts';
export * from './keys.ts';
