/** The benchmark could not run a step (missing tool, failed install, a measured process that failed). */
export class BenchSetupError extends Error {
  override readonly name = 'BenchSetupError';
}
