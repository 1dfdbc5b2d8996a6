// Checks the cases share: what a failed call must have raised.

import assert from "node:assert/strict";

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
