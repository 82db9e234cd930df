import { vi } from 'vitest';

/** Captures what is written to stdout and stderr (where Powertools logs go) until restored. */
export type CaptureOutput = ReturnType<typeof captureOutput>;

export function captureOutput() {
  const chunks: string[] = [];
  const record = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(record);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(record);
  return {
    text: () => chunks.join(''),
    /** Every JSON log line written so far, parsed. */
    records: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}
