import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';
import { type RunningMoto, startMoto } from '../../scripts/local/aws-stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

let moto: RunningMoto | undefined;

/** One moto per integration run, on a free loopback port; every test file uses its own table. */
export async function setup(project: TestProject): Promise<void> {
  moto = await startMoto({ port: await freeLoopbackPort() });
  project.provide('motoEndpoint', moto.endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}
