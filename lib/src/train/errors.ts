/**
 * The trainer's errors. Each is one line naming the run folder, file, epoch or option at fault; the CLI prints
 * `message` alone and exits 1 (their `name` marks them as expected errors, not bugs).
 */

/** A run that cannot start or continue: a refused folder, a corrupt checkpoint, a bad option, a diverged run. */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

/** Thrown by `trainRun` when `deadline` stopped it at an epoch boundary; the checkpoint holds `epochsDone` epochs. */
export class TrainingStopped extends Error {
  constructor(
    readonly epochsDone: number,
    readonly epochs: number,
    readonly checkpoint: string,
  ) {
    super(
      `stopped after epoch ${epochsDone}/${epochs} (time limit); ${checkpoint} continues it with --resume`,
    );
    this.name = 'TrainingStopped';
  }
}
