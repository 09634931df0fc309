// The names that public checkpoints give the architectures nnlock builds, resolved to nnlock's own
// registry names. A weights file's `architecture` metadata (or --arch) may say `resnet56-cifar`,
// `cifar_resnet56`, `resnet56_cifar10`, `cifar100_resnet20`, `vgg16_bn`, `DnCNN-S`, ...: each rule
// below is one naming family, written once for every depth, so no depth is left without an alias.
//
// Names are compared case-insensitively, with `_` and `-` alike.

export interface ResolvedName {
  /** nnlock's registry name: resnetN, vggN[-bn][-wX], dncnn-N[-c3], smallcnn[-c3]. */
  name: string;
  /** The number of classes the naming implies (cifar100 → 100), when it says. */
  numClasses?: number;
}

interface NamingRule {
  /** Matched against the normalised name (lower case, `_` turned into `-`). */
  pattern: RegExp;
  resolve(m: RegExpExecArray): ResolvedName;
  /** A public name of this family, for the documentation and the tests. */
  example: string;
}

const classesOf = (dataset: string | undefined): number | undefined => (dataset === '100' ? 100 : dataset === '10' ? 10 : undefined);

const NAMING_RULES: readonly NamingRule[] = [
  // nnlock's own names come through unchanged.
  {
    pattern: /^(convmixer-\d+x\d+-p\d+(?:-k\d+)?|resnet\d+|vgg(?:11|13|16|19)(?:-bn)?(?:-w[0-9.]+)?|dncnn-\d+(?:-c[13])?|smallcnn(?:-c[13])?)$/,
    resolve: (m) => ({ name: m[1] }),
    example: 'resnet20',
  },
  // akamaster/pytorch_resnet_cifar10 and the many ports: resnet56-cifar, resnet56-cifar10, resnet110-cifar100.
  { pattern: /^resnet(\d+)-cifar(10|100)?$/, resolve: (m) => ({ name: `resnet${m[1]}`, numClasses: classesOf(m[2]) }), example: 'resnet56-cifar' },
  // chenyaofo/pytorch-cifar-models (torch.hub): cifar10_resnet56, cifar100_resnet20; also cifar-resnet56.
  { pattern: /^cifar(10|100)?-resnet(\d+)$/, resolve: (m) => ({ name: `resnet${m[2]}`, numClasses: classesOf(m[1]) }), example: 'cifar10_resnet56' },
  // torchvision-style VGG names, with or without a dataset: vgg16_bn, vgg16bn, cifar10_vgg16_bn, vgg16_bn_cifar10.
  {
    pattern: /^(?:cifar(10|100)?-)?vgg(11|13|16|19)-?(bn)?(?:-cifar(10|100)?)?$/,
    resolve: (m) => ({ name: `vgg${m[2]}${m[3] ? '-bn' : ''}`, numClasses: classesOf(m[1] ?? m[4]) }),
    example: 'vgg16_bn',
  },
  // DnCNN (Zhang et al.): DnCNN-S is the 17-layer net for one known σ; DnCNN-B (blind) has 20
  // layers; CDnCNN-B is the colour blind model; plain `dncnn` is DnCNN-S. (The paper's DnCNN-3
  // cannot be named so: dncnn-3 is nnlock's name for a 3-layer DnCNN, pass --arch dncnn-20.)
  { pattern: /^dncnn(?:-s)?$/, resolve: () => ({ name: 'dncnn-17' }), example: 'DnCNN-S' },
  { pattern: /^dncnn-b$/, resolve: () => ({ name: 'dncnn-20' }), example: 'DnCNN-B' },
  { pattern: /^(?:cdncnn-b|dncnn-(?:color|colour|rgb))$/, resolve: () => ({ name: 'dncnn-20-c3' }), example: 'CDnCNN-B' },
  // SaoYan/DnCNN-PyTorch writes the depth: dncnn17, dncnn-17-color.
  { pattern: /^dncnn-?(\d+)(?:-(color|colour|rgb|c3))?$/, resolve: (m) => ({ name: `dncnn-${m[1]}${m[2] ? '-c3' : ''}` }), example: 'dncnn17' },
];

/** One public name per naming family (see NAMING_RULES). */
export const PUBLIC_NAME_EXAMPLES: readonly string[] = NAMING_RULES.map((r) => r.example);

/** nnlock's registry name for `name` in any naming the rules know, or undefined. */
export function resolveArchitectureName(name: string): ResolvedName | undefined {
  const normal = name.trim().toLowerCase().replaceAll('_', '-');
  for (const rule of NAMING_RULES) {
    const m = rule.pattern.exec(normal);
    if (m) return rule.resolve(m);
  }
  return undefined;
}
