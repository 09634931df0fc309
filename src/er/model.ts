// The Encryption-Robust CNN: an adaptation network in front of a backbone classifier, one Module
// whose state dict reads `adaptation.conv.weight`, ..., `backbone.conv1.weight`, ... as the same
// model in PyTorch would (fields `adaptation` and `backbone`). Without an adaptation network it is
// the plain backbone under the prefix `backbone.` (the "no adaptation" baseline).
import type { Tensor } from '../tensor/index.ts';
import { Module } from '../nn/index.ts';
import { AdaptationNetwork, type AdaptationConfig } from './adaptation.ts';

export class EncryptionRobustModel extends Module {
  readonly adaptation: AdaptationNetwork | null;
  private current: Module;
  private frozen = false;

  constructor(adaptation: AdaptationNetwork | null, backbone: Module) {
    super();
    this.adaptation = adaptation ? this.registerModule('adaptation', adaptation) : null;
    this.current = this.registerModule('backbone', backbone);
  }

  get backbone(): Module {
    return this.current;
  }

  /**
   * Puts a new backbone in place (multi-round training restarts it each round) and returns the
   * old one, which the caller disposes. The adaptation network is kept.
   */
  replaceBackbone(backbone: Module): Module {
    const old = this.current;
    this.current = this.registerModule('backbone', backbone);
    backbone.train(this.training);
    if (this.frozen) this.freezeBackbone();
    return old;
  }

  /**
   * Freezes the backbone (and every backbone put in place later): its parameters stop requiring
   * gradients and it stays in eval mode, so its batch-norm statistics are the pretrained ones
   * whatever train() says. Gradients still flow through it to the adaptation network.
   */
  freezeBackbone(): void {
    this.frozen = true;
    for (const p of this.current.parameters()) p.requiresGrad = false;
    this.current.eval();
  }

  get backboneFrozen(): boolean {
    return this.frozen;
  }

  override train(on = true): this {
    super.train(on);
    if (this.frozen) this.current.eval();
    return this;
  }

  forward(x: Tensor): Tensor {
    if (!this.adaptation) return this.current.forward(x);
    const a = this.adaptation.forward(x);
    const out = this.current.forward(a);
    a.dispose();
    return out;
  }

  /** The adaptation network's output (what the backbone sees): the learned "decryption". */
  adapt(x: Tensor): Tensor {
    if (!this.adaptation) throw new Error('EncryptionRobustModel: this model has no adaptation network');
    return this.adaptation.forward(x);
  }
}

export function encryptionRobustModel(backbone: Module, adaptation: AdaptationConfig | null): EncryptionRobustModel {
  return new EncryptionRobustModel(adaptation ? new AdaptationNetwork(adaptation) : null, backbone);
}
