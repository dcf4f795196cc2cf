import { describe, expect, it } from 'vitest';
import { realExec, CommandError } from '../../../drivers/sys/exec.js';

describe('realExec', () => {
  const seen: string[] = [];
  const exec = realExec((argv, _ms, ok) => seen.push(`${argv[0]}:${ok}`));

  it('runs argv without a shell, feeds stdin, returns stdout', async () => {
    expect(await exec.run(['cat'], { input: 'a b $HOME; `x`\n' })).toBe('a b $HOME; `x`\n');
    expect(await exec.run(['echo', '$(id)'])).toBe('$(id)\n');
  });

  it('rejects a non-zero exit with the code and stderr', async () => {
    const e = await exec.run(['sh', '-c', 'echo oops >&2; exit 3']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommandError);
    expect(e).toMatchObject({ exitCode: 3, stderr: 'oops\n', code: 'system' });
    expect((e as Error).message).toBe('sh failed: oops');
  });

  it('rejects a program that is not there', async () => {
    const e = await exec.run(['/nonexistent/prog']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommandError);
    expect((e as Error).message).toMatch(/ENOENT/);
  });

  it('kills a program that outlives its timeout', async () => {
    const t0 = Date.now();
    await expect(exec.run(['sleep', '5'], { timeoutMs: 100 })).rejects.toBeInstanceOf(CommandError);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('knows the pids of the programs it ran (the flush watcher tells its own transactions by them)', async () => {
    const pid = Number(await exec.run(['sh', '-c', 'echo $$']));
    expect(pid).toBeGreaterThan(1);
    expect(exec.ran!(pid)).toBe(true);
    expect(exec.ran!(process.pid)).toBe(false);
    expect(realExec().ran!(pid)).toBe(false);
  });

  it('reports every execution to the observer', () => {
    expect(seen).toContain('cat:true');
    expect(seen).toContain('sh:false');
  });
});
