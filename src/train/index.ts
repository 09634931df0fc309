// Training and evaluation: the training loop (with checkpoints and resume), evaluateAccuracy,
// denoiser evaluation, and the metrics (accuracy, PSNR, SSIM).
export * from './loop.ts';
export * from './checkpoint.ts';
export * from './evaluate.ts';
export * from './metrics.ts';
