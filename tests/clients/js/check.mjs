// Checks the cases share: what a failed call must have raised.

import assert from "node:assert/strict";

import OpenAI from "openai";

// Runs `call`, which must fail; returns what it threw after `judge` has accepted it.
export async function rejects(what, call, judge) {
  let thrown;
  try {
    await call();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) {
    assert.fail(`${what}: the call succeeded, an error was expected`);
  }
  try {
    judge(thrown);
  } catch (mismatch) {
    mismatch.message = `${what}: ${mismatch.message}\n(it threw ${thrown?.constructor?.name}: ${thrown?.message})`;
    throw mismatch;
  }
  return thrown;
}

// A class check that names both classes when it fails.
export function isA(error, type) {
  assert.ok(
    error instanceof type,
    `expected ${type.name}, got ${error?.constructor?.name}`,
  );
}

// The gateway's error envelope, as every OpenAI-style client keeps it.
export function gatewayError(error, status, code) {
  assert.equal(error.status, status, "status");
  assert.equal(error.code, code, "error code");
}

// The gateway's refusals, as every library meets them: a key it does not know (401), a model
// outside the key's allow-list (403), a model nobody serves (404, asked with the key that may use
// every model and so learns that), an upstream that cannot be reached (502), and a key over its
// rate limit (429). `ask(key, model)` makes one request; `judge(error, status)` checks what it
// threw.
export async function refusals(bench, ask, judge) {
  const refused = [
    ["an unknown key", bench.keys.unknown, bench.models.chat, 401],
    ["a model the key may not use", bench.keys.app, bench.models.forbidden, 403],
    ["a model nobody serves", bench.keys.wildcard, bench.models.missing, 404],
    ["an upstream that cannot be reached", bench.keys.app, bench.models.down, 502],
  ];
  for (const [what, key, model, status] of refused) {
    await rejects(what, () => ask(key, model), (error) => judge(error, status));
  }
  // One request a minute, which an earlier case may have spent already.
  await rejects("a key over its rate limit", async () => {
    await ask(bench.keys.limited, bench.models.chat);
    await ask(bench.keys.limited, bench.models.chat);
  }, (error) => judge(error, 429));
}

// The gateway's error code for each status `refusals` meets.
export const REFUSAL_CODES = {
  401: "invalid_api_key",
  403: "model_not_allowed",
  404: "model_not_found",
  429: "rate_limit_exceeded",
  502: "upstream_failed",
};

const OPENAI_ERRORS = {
  401: OpenAI.AuthenticationError,
  403: OpenAI.PermissionDeniedError,
  404: OpenAI.NotFoundError,
  429: OpenAI.RateLimitError,
  502: OpenAI.InternalServerError,
};

// A refusal as the `openai` package raises it (LangChain.js raises the same).
export function openaiRefusal(error, status) {
  isA(error, OPENAI_ERRORS[status]);
  gatewayError(error, status, REFUSAL_CODES[status]);
  if (status === 404) assert.equal(error.param, "model");
  if (status === 429) assert.ok(Number(error.headers.get("retry-after")) > 0, "Retry-After");
}

// An embedding as the stand-in makes it: vector i holds (i + 1) / (position + 1).
export function standInVector(vector, index, size) {
  assert.equal(vector.length, size, "dimensions");
  vector.forEach((value, position) => {
    assert.ok(
      Math.abs(value - (index + 1) / (position + 1)) < 1e-6,
      `vector ${index}[${position}] is ${value}`,
    );
  });
}
