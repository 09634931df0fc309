// Encryption-robust learning: an adaptation network in front of a backbone, trained on
// block-encrypted images: the model and its files, its initialisations, the batches it learns
// from, the training recipe (trainEncryptionRobust, in rounds) and its diagnostics and pictures.
export * from './adaptation.ts';
export * from './model.ts';
export * from './model-file.ts';
export * from './multi-round.ts';
export * from './whitening.ts';
export * from './statistical-init.ts';
export * from './data.ts';
export * from './train.ts';
export * from './cached.ts';
export * from './diagnostics.ts';
export * from './fold.ts';
export * from './fold-file.ts';
