/** PKCE (RFC 7636) with S256, and the OAuth `state`: fresh random values for every login. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Pkce {
  /** 43 base64url characters (32 random bytes): the shortest verifier RFC 7636 §4.1 allows. */
  verifier: string;
  challenge: string;
}

/** BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export function newPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier) };
}

/** 256 bits: the loopback accepts a callback only with this value, so no other page can forge one. */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time string equality, for the state check. */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
