/** The part of jstat (no bundled types) the lib uses: Student's t quantile (experiments/stats.ts). */
declare module 'jstat' {
  export const jStat: { studentt: { inv(p: number, dof: number): number } };
}
