// Encryption-robust learning: an adaptation network in front of a backbone, trained on
// block-encrypted images, its initialisations, model files, multi-round training and pictures.
export * from './adaptation.ts';
export * from './model.ts';
export * from './model-file.ts';
export * from './multi-round.ts';
export * from './whitening.ts';
export * from './statistical-init.ts';
export * from './pictures.ts';
