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

/**
 * Thrown by `trainRun` when it stopped before the end: at an epoch boundary by `deadline` (`by` 'time limit'), or
 * between two steps by `signal` (`by` 'signal', the epoch in progress dropped). The checkpoint holds `epochsDone`
 * epochs (none when 0).
 */
export class TrainingStopped extends Error {
  constructor(
    readonly epochsDone: number,
    readonly epochs: number,
    readonly checkpoint: string | null,
    readonly by: 'time limit' | 'signal' = 'time limit',
  ) {
    super(
      by === 'time limit'
        ? `stopped after epoch ${epochsDone}/${epochs} (time limit); ${checkpoint} continues it with --resume`
        : `interrupted during epoch ${epochsDone + 1}/${epochs}; ` +
            (epochsDone && checkpoint
              ? `${checkpoint} (epoch ${epochsDone}) continues it with --resume`
              : 'no epoch was finished, nothing to continue from'),
    );
    this.name = 'TrainingStopped';
  }
}
