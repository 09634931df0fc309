// Training and evaluation: the loop, metrics, checkpoints, and the whole workflows on files
// (train a classifier, evaluate one, denoise images with a denoiser).
export { type TrainOptions, type TrainResult, type StepProgress, type EpochProgress, train } from './loop.ts';
export { type Forward, type DenoiseImage, type DenoiseResult, evaluateAccuracy, evaluateDenoiser } from './evaluate.ts';
export { correctCount, mse, psnrOfMse, psnrPerImage, ssimPerImage } from './metrics.ts';
export { type CheckpointState, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
export { type HeldOutSource, type ScheduleKind, SCHEDULE_KINDS, type TrainClassifierConfig, type TrainingStart, type TrainedClassifier, stratifiedSplit, trainClassifier } from './classifier.ts';
export { type ClassifierEvaluation, type EvaluateClassifierOptions, evaluateClassifier } from './evaluate-classifier.ts';
export { type CachedClassifier, type CachedClassifierConfig, cachedClassifier } from './cached.ts';
export { type DenoiseImagesOptions, type DenoiseReport, type DenoisedImageScore, denoiseImages } from './denoise-images.ts';
export { type DataParallelOptions, DataParallel, perRankBatch } from './data-parallel.ts';
