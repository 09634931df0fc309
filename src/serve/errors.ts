// The service's errors: each has a code (the API's, in the JSON body) and the HTTP status it maps
// to. Anything else thrown inside a handler is a 500 'internal' whose message is not shown.

export type ServeErrorCode =
  | 'unknown-model'
  | 'bad-image'
  | 'unauthorized'
  | 'forbidden-tier'
  | 'rate-limited'
  | 'too-large'
  | 'bad-request'
  | 'timeout'
  | 'not-found'
  | 'unsupported-media-type'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ServeErrorCode, number> = {
  'unknown-model': 404,
  'bad-image': 400,
  unauthorized: 401,
  'forbidden-tier': 403,
  'rate-limited': 429,
  'too-large': 413,
  'bad-request': 400,
  timeout: 503,
  'not-found': 404,
  'unsupported-media-type': 415,
  unavailable: 503,
  internal: 500,
};

export class ServeError extends Error {
  override name = 'ServeError';
  readonly status: number;
  constructor(
    readonly code: ServeErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

/** The JSON body of an error response. */
export function errorBody(code: ServeErrorCode, message: string): { error: { code: ServeErrorCode; message: string } } {
  return { error: { code, message } };
}
