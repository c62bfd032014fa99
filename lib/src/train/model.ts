/** The model of a config. */
import { createModel } from '../models/registry';
import type { MultiExpert } from '../models/experts';
import type { TrainConfig } from './config';

/** The K-expert model a config describes, for a dataset with `numClasses` classes and `channels` input channels. */
export function modelFromConfig(c: TrainConfig, numClasses: number, channels: number): MultiExpert {
  return createModel(
    {
      name: c.model.name,
      numClasses,
      inChannels: channels,
      width: c.model.width,
      classifier: c.model.classifier,
      cosineScale: c.model.cosineScale,
      numExperts: c.model.numExperts,
    },
    c.seed,
  );
}
