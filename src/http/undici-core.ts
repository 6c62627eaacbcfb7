import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import apiRequest from 'undici/lib/api/api-request.js';
import util from 'undici/lib/core/util.js';
import formData from 'undici/lib/web/fetch/formdata.js';

// undici's package entry also loads fetch, WebSocket, the mock agents, the cache stores and the
// interceptors: more code to compile than the uploads that need undici. The client needs an Agent
// and `request`, which live in these files of the same package.

export { Agent };

/** The FormData class undici's request body code knows (multipart uploads to ChartMuseum). */
export const FormData = formData.FormData;

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

/** undici's top-level `request(url, options)` for a URL object, without loading the package entry. */
export function request(url: URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const parsed = util.parseURL(url);
  return apiRequest.call(options.dispatcher, {
    ...options,
    origin: parsed.origin,
    path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname,
    method: options.method || (options.body ? 'PUT' : 'GET'),
  });
}
