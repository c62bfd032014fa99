// Models: CIFAR ResNets with option-A shortcuts, K-expert containers, and a registry by name.
export { ParamStore, SeedStream, Conv2d, BatchNorm, Linear, CosineLinear, kaimingNormal } from './layers';
export { ResNetCifar } from './resnet';
export type { ResNetOptions, ForwardOutput } from './resnet';
export { MultiExpert } from './experts';
export { MODEL_REGISTRY, MODEL_NAMES, ModelConfig, createModel } from './registry';
export type { ModelName } from './registry';
export { modelFlops } from './flops';
export { describeModel, describeNetwork } from './describe';
