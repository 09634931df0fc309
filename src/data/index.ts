// Datasets and batches: the one BatchSource interface, in-memory datasets, the DataLoader (worker
// threads, augmentation, noise), and readers for CIFAR-10, Fashion-MNIST, image folders and denoising
// patches.
export * from './batch-source.ts';
export * from './dataset.ts';
export * from './class-subset.ts';
export * from './loader.ts';
export * from './augment.ts';
export * from './rng.ts';
export * from './cifar10.ts';
export * from './fashion-mnist.ts';
export * from './image-folder.ts';
export * from './denoise-patches.ts';
export * from './open.ts';
export * from './normalisation.ts';
export * from './shard.ts';
