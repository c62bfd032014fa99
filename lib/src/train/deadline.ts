/** `--time-limit`: stop at an epoch boundary when the next epoch would not end in time. */

/**
 * Whether to stop after an epoch that took `seconds`: another as long, started now, would end after `deadline`
 * (ms since 1970). Never before the last epoch (`epochsLeft` = 0 finishes the run anyway).
 */
export function pastDeadline(deadline: number | undefined, seconds: number, epochsLeft: number): boolean {
  return deadline != null && epochsLeft > 0 && Date.now() + seconds * 1000 > deadline;
}
