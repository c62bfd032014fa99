/**
 * Models by name, with their configs (timm-style): `createModel('resnet32', { numClasses: 100 })`.
 */
import { z } from 'zod';
import { MultiExpert } from './experts';

/** Registered architectures: blocks per stage of the CIFAR ResNet (depth 6n + 2). */
export const MODEL_REGISTRY = {
  resnet8: { blocksPerStage: 1, description: 'CIFAR ResNet-8 (3 basic blocks), the mini protocol backbone' },
  resnet20: { blocksPerStage: 3, description: 'CIFAR ResNet-20' },
  resnet32: { blocksPerStage: 5, description: 'CIFAR ResNet-32, the paper backbone for CIFAR-10/100-LT' },
  resnet44: { blocksPerStage: 7, description: 'CIFAR ResNet-44' },
  resnet56: { blocksPerStage: 9, description: 'CIFAR ResNet-56' },
} as const;
export type ModelName = keyof typeof MODEL_REGISTRY;
export const MODEL_NAMES = Object.keys(MODEL_REGISTRY) as [ModelName, ...ModelName[]];

export const ModelConfig = z
  .object({
    name: z.enum(MODEL_NAMES),
    numClasses: z.number().int().min(2),
    inChannels: z.number().int().min(1).default(3),
    width: z.number().int().min(1).max(256).default(16),
    classifier: z.enum(['linear', 'cosine']).default('linear'),
    cosineScale: z.number().finite().positive().default(30),
    numExperts: z.number().int().min(1).max(64).default(1),
  })
  .strict();
export type ModelConfig = z.infer<typeof ModelConfig>;

/** Build a K-expert model from a (validated) config; `seed` fixes the initial weights. */
export function createModel(config: z.input<typeof ModelConfig>, seed: number): MultiExpert {
  const c = ModelConfig.parse(config);
  return new MultiExpert(c.numExperts, {
    blocksPerStage: MODEL_REGISTRY[c.name].blocksPerStage,
    numClasses: c.numClasses,
    inChannels: c.inChannels,
    width: c.width,
    classifier: c.classifier,
    cosineScale: c.cosineScale,
    seed,
  });
}
