/**
 * The JSON of a call's larger parts, serialized once. The call key (call-cache.ts) and the request
 * body (openai-chat-model.ts) both carry a call's messages and response format, and every row of
 * a job asks for the same response format: serializing each once saves about 7 µs of a row's
 * 400 µs on the engine thread (measured: 11–13 against 4–6 µs for key and body together).
 *
 * Both are remembered by object identity. A request's messages are read through the request, which
 * is built for one call (its retries included) and not changed afterwards; a response format is
 * built once per job (row-evaluator.ts) and never changed. A format built anew for each call
 * still works, it is only serialized each time.
 */
import type { ChatRequest, ResponseFormat } from './chat-model.js';

const messagesByRequest = new WeakMap<ChatRequest, string>();
const formats = new WeakMap<ResponseFormat, string>();

/** `JSON.stringify(request.messages)`, computed once per request. */
export function messagesJson(request: ChatRequest): string {
  let json = messagesByRequest.get(request);
  if (json === undefined) messagesByRequest.set(request, (json = JSON.stringify(request.messages)));
  return json;
}

/** `JSON.stringify(format)`, computed once per format object. */
export function formatJson(format: ResponseFormat): string {
  let json = formats.get(format);
  if (json === undefined) formats.set(format, (json = JSON.stringify(format)));
  return json;
}

/**
 * A number or absent value as `JSON.stringify` writes it inside an array (absent and non-finite
 * values are `null`), so a key built from parts matches one built from the whole array.
 */
export function jsonScalar(value: number | string | undefined): string {
  return JSON.stringify(value ?? null);
}
