// `nnlock attack decoys` as a function: run the detector suite on a protected file. Without a key
// it is the attacker's view (each layer's suspects by the chosen detector). With a key of the top
// tier it is the owner's audit: the key says where the decoys truly are, so every detector's ROC
// AUC can be scored (scoreDetectors).
import type { SafetensorsFile } from '../io/safetensors.ts';
import { type DecoyMode, DEFAULT_DECOY_MODE, convLayers, inspectProtected, isProtected, unlockModel } from '../protect/index.ts';
import { bytesToFloat64 } from '../protect/layers.ts';
import { selectedCount } from '../protect/selection.ts';
import { type DetectorReport, type PublishedLayer, runDetectors, scoreDetectors } from './decoy-detectors.ts';

export interface AuditDecoysOptions {
  /** A tier token of the model's top tier: score the detectors against the true decoys. */
  token?: string;
  /** The decoy mode the attacker simulates (default: nnlock's default). */
  mode?: DecoyMode;
  /** Without a token: the protected share of each layer the attacker assumes (default 0.08). */
  ratio?: number;
  /** The detector whose suspects are listed (default 'classifier'). */
  detector?: string;
  seed?: number;
}

export interface AuditDecoysResult {
  layers: { name: string; kernels: number; decoys: number; suspects: number[] }[];
  /** Only with a token: every detector scored against the truth. */
  reports?: DetectorReport[];
  mode: DecoyMode;
  detector: string;
}

export async function auditDecoys(file: SafetensorsFile, o: AuditDecoysOptions = {}): Promise<AuditDecoysResult> {
  // Without a key any weights file will do (every conv layer is a suspect); a key needs the header.
  const header = o.token !== undefined || isProtected(file) ? inspectProtected(file) : undefined;
  const names = header ? new Set(header.layers.map((l) => l.name)) : undefined;
  const layers: PublishedLayer[] = convLayers(file.tensors)
    .filter((l) => !names || names.has(l.name))
    .map((l) => ({ name: l.name, shape: l.shape, values: bytesToFloat64(file.tensors.get(l.name)!.data, l.dtype) }));
  let truth: Uint8Array[] | undefined;
  if (o.token !== undefined) {
    const restored = await unlockModel(file, o.token);
    if (restored.tier !== restored.tiers) throw new RangeError(`scoring the detectors needs a key of the top tier (${restored.tiers}); this one opens tier ${restored.tier}`);
    truth = layers.map((l) => {
      const orig = bytesToFloat64(restored.file.tensors.get(l.name)!.data, restored.file.tensors.get(l.name)!.dtype);
      const ks = l.shape[2] * l.shape[3];
      const t = new Uint8Array(l.shape[0] * l.shape[1]);
      for (let k = 0; k < t.length; k++) for (let q = 0; q < ks; q++) if (orig[k * ks + q] !== l.values[k * ks + q]) t[k] = 1;
      return t;
    });
  }
  const counts = truth ? truth.map((t) => t.reduce((a, b) => a + b, 0)) : layers.map((l) => selectedCount(l.shape[0] * l.shape[1], o.ratio ?? 0.08));
  const mode = o.mode ?? DEFAULT_DECOY_MODE;
  const detector = o.detector ?? 'classifier';
  const scores = runDetectors(layers, { mode, counts, seed: o.seed });
  const chosen = scores.get(detector);
  if (!chosen) throw new RangeError(`no detector '${detector}': use one of ${[...scores.keys()].join(', ')}`);
  return {
    mode,
    detector,
    layers: layers.map((l, i) => {
      const s = chosen[i];
      const order = Array.from({ length: s.length }, (_, k) => k).sort((a, b) => s[b] - s[a] || a - b);
      return { name: l.name, kernels: s.length, decoys: counts[i], suspects: order.slice(0, counts[i]) };
    }),
    reports: truth ? scoreDetectors(layers, scores, truth) : undefined,
  };
}
