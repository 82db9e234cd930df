/**
 * What the core logs through: structured lines with attributes. The functions hand it their
 * Powertools logger (functions/http/observability.ts); tests hand it a silent or recording one.
 */
export interface Log {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}
