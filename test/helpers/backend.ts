// The client as the fast-path tests build it: every event's emit stamp recorded, and either the
// fast paths or JSON.parse for every event.
import { OpenAIBackend, type OpenAIBackendOptions } from '../../src/backend/openai/client.js';
import type { Clock } from '../../src/core/clock.js';

export function parsingBackend(baseUrl: string, endpoint: 'chat' | 'completions', parseEveryEvent: boolean, clock: Clock, transport?: 'native' | 'undici'): OpenAIBackend {
  return new OpenAIBackend({
    baseUrl,
    model: 'm',
    endpoint,
    ignoreEos: false,
    minTokens: false,
    temperature: 0,
    idleTimeoutS: 5,
    clock,
    parseEveryEvent,
    recordEmitTimes: true,
    ...(transport && { transport }),
  });
}

/** The plain client options the client tests start from (chat, model "m"), with `over` on top. */
export function clientOptions(baseUrl: string, clock: Clock, over: Partial<OpenAIBackendOptions> = {}): OpenAIBackendOptions {
  return { baseUrl, model: 'm', endpoint: 'chat', ignoreEos: true, minTokens: false, temperature: 0, idleTimeoutS: 10, clock, ...over };
}
