// Run tasks at most `n` at a time, in order of submission. The first failure is what `all`
// rejects with, after every started task has settled (no task is left running behind a failed pull).

export async function inBatches<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>, onQueued?: (item: T, index: number) => void): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  items.forEach((it, i) => {
    if (i >= n) onQueued?.(it, i);
  });
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed.error;
  return results;
}
