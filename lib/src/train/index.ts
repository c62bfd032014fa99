// Training: typed configs and protocols, the loop, SGD, schedules, checkpoints.
export {
  TrainConfig,
  TrainConfigFields,
  canonicalConfig,
  keyedConfig,
  configHash,
  canonicalJSON,
  formatConfigError,
} from './config';
export type { TrainConfigInput, LossSection } from './config';
export { PROTOCOLS, PROTOCOL_NAMES, MINI_SCALE, protocolConfig, getProtocol } from './protocols';
export { learningRate } from './schedule';
export { SGD } from './sgd';
export { saveCheckpoint, loadCheckpoint, checkpointState, lossVariablesOf, atomicWrite } from './checkpoint';
export {
  trainRun,
  prepareData,
  readMetrics,
  lossFromConfig,
  modelFromConfig,
  batchOptions,
  numHardOf,
  TrainingError,
  TrainingStopped,
} from './trainer';
export type { TrainOptions, Metrics, StepInfo, EpochInfo, PreparedData } from './trainer';
