// Selective protection of CNNs (Tian, Zhou and Duan, CVPR 2021): kernel importance, selection,
// DPRM decoys, nested tiers, the protected-file format, protect and unlock.
export * from './layers.ts';
export * from './importance/index.ts';
export * from './selection.ts';
export * from './decoys.ts';
export * from './tiers.ts';
export * from './format.ts';
export * from './protect.ts';
export * from './unlock.ts';
export * from './keys.ts';
