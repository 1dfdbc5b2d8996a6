// The official Anthropic SDK (`@anthropic-ai/sdk`) against the gateway's Messages API, its base
// URL the gateway's origin as ANTHROPIC_BASE_URL would be: messages.create whole (with an
// `x-api-key` and with a Bearer token), the messages.stream helper with text and with tool use
// (its input assembled from input_json_delta), a tool_result round trip, countTokens, and the
// gateway's errors as the SDK's typed errors in Anthropic's envelope.

import assert from "node:assert/strict";

import Anthropic from "@anthropic-ai/sdk";

import { isA, refusals, rejects } from "../check.mjs";

// `token`: send the key as `Authorization: Bearer` (ANTHROPIC_AUTH_TOKEN) instead of x-api-key.
function client(bench, key = bench.keys.app, { token = false } = {}) {
  const credential = token ? { authToken: key, apiKey: null } : { apiKey: key };
  return new Anthropic({
    baseURL: new URL(bench.baseURL).origin,
    ...credential,
    maxRetries: 0,
    timeout: 30_000,
  });
}

const ASK = [{ role: "user", content: "What is the weather in Paris?" }];

function weatherTool(bench) {
  return {
    name: bench.toolCall.name,
    description: "The weather in a city",
    input_schema: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
  };
}

function request(bench, extra = {}) {
  return { model: bench.models.chat, max_tokens: 100, messages: ASK, ...extra };
}

function checkText(bench, message) {
  assert.equal(message.type, "message");
  assert.equal(message.role, "assistant");
  assert.equal(message.stop_reason, "end_turn");
  assert.deepEqual(
    message.content.map((block) => block.type),
    ["text"],
  );
  assert.equal(message.content[0].text, bench.answer);
  assert.equal(message.usage.input_tokens, 11);
  assert.equal(message.usage.output_tokens, bench.answer.split(" ").length);
}

function checkToolUse(bench, message) {
  assert.equal(message.stop_reason, "tool_use");
  const uses = message.content.filter((block) => block.type === "tool_use");
  assert.equal(uses.length, 1, "one tool_use block");
  const [use] = uses;
  assert.equal(use.name, bench.toolCall.name);
  assert.deepEqual(use.input, bench.toolCall.arguments);
  assert.ok(use.id, "the tool_use block's id");
  return use;
}

// The SDK's error class and Anthropic's error type for each status the gateway refuses with.
const ANTHROPIC_ERRORS = {
  401: [Anthropic.AuthenticationError, "authentication_error"],
  403: [Anthropic.PermissionDeniedError, "permission_error"],
  404: [Anthropic.NotFoundError, "not_found_error"],
  429: [Anthropic.RateLimitError, "rate_limit_error"],
  502: [Anthropic.InternalServerError, "api_error"],
};

// The Anthropic error envelope on the SDK's error, with its status and type.
function anthropicError(error, status, type) {
  assert.equal(error.status, status, "status");
  assert.equal(error.type, type, "error type");
  assert.equal(error.error?.type, "error", "Anthropic's envelope");
}

export const cases = {
  async messages(bench) {
    const message = await client(bench).messages.create(
      request(bench, { system: "Be brief.", stop_sequences: ["###"] }),
    );
    checkText(bench, message);
    // The same with the key as a Bearer token, as Claude Code's ANTHROPIC_AUTH_TOKEN sends it.
    const bearer = await client(bench, bench.keys.app, { token: true }).messages.create(
      request(bench),
    );
    checkText(bench, bearer);
  },

  async "messages-stream"(bench) {
    const stream = client(bench).messages.stream(request(bench));
    let text = "";
    const kinds = new Set();
    stream.on("text", (delta) => {
      text += delta;
    });
    stream.on("streamEvent", (event) => kinds.add(event.type));
    const final = await stream.finalMessage();
    checkText(bench, final);
    assert.equal(text, bench.answer);
    for (const kind of ["message_start", "content_block_delta", "message_delta", "message_stop"]) {
      assert.ok(kinds.has(kind), `a ${kind} event`);
    }
  },

  async "messages-tools"(bench) {
    const anthropic = client(bench);
    const called = await anthropic.messages.create(request(bench, { tools: [weatherTool(bench)] }));
    const use = checkToolUse(bench, called);
    // The round trip: the tool's result goes back in a tool_result block; no tools are offered
    // this time, so the stand-in answers in text.
    const answer = await anthropic.messages.create(
      request(bench, {
        messages: [
          ...ASK,
          { role: "assistant", content: called.content },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: use.id, content: "18 °C and sunny" }],
          },
        ],
      }),
    );
    checkText(bench, answer);
  },

  async "messages-tools-stream"(bench) {
    const stream = client(bench).messages.stream(
      request(bench, { tools: [weatherTool(bench)], tool_choice: { type: "auto" } }),
    );
    let jsonDeltas = 0;
    let snapshot;
    stream.on("inputJson", (_, jsonSnapshot) => {
      jsonDeltas += 1;
      snapshot = jsonSnapshot;
    });
    const final = await stream.finalMessage();
    checkToolUse(bench, final);
    assert.ok(jsonDeltas > 1, `the input came in ${jsonDeltas} input_json_delta(s)`);
    assert.deepEqual(snapshot, bench.toolCall.arguments, "the SDK's assembled input");
  },

  async "count-tokens"(bench) {
    const anthropic = client(bench);
    const plain = await anthropic.messages.countTokens({ model: bench.models.chat, messages: ASK });
    assert.ok(Number.isInteger(plain.input_tokens) && plain.input_tokens > 0, "a count");
    const withTools = await anthropic.messages.countTokens({
      model: bench.models.chat,
      system: "Be brief.",
      messages: ASK,
      tools: [weatherTool(bench)],
    });
    assert.ok(withTools.input_tokens > plain.input_tokens, "the system prompt and tools count");
  },

  async errors(bench) {
    const ask = (key, model, extra = {}) =>
      client(bench, key).messages.create(request(bench, { model, ...extra }));
    await refusals(bench, ask, (error, status) => {
      const [type, kind] = ANTHROPIC_ERRORS[status];
      isA(error, type);
      anthropicError(error, status, kind);
      if (status === 429) assert.ok(Number(error.headers.get("retry-after")) > 0, "Retry-After");
    });
    await rejects("a request without max_tokens", () => ask(bench.keys.app, bench.models.chat, {
      max_tokens: undefined,
    }), (error) => {
      isA(error, Anthropic.BadRequestError);
      anthropicError(error, 400, "invalid_request_error");
      assert.match(error.apiMessage, /max_tokens/);
    });
    await rejects("an upstream that cannot be reached, streamed", () => client(bench).messages.stream(
      request(bench, { model: bench.models.down }),
    ).finalMessage(), (error) => {
      isA(error, Anthropic.InternalServerError);
      anthropicError(error, 502, "api_error");
    });
  },


  async "untrusted-certificate"(bench) {
    assert.equal(process.env.NODE_EXTRA_CA_CERTS, undefined);
    await rejects("HTTPS without the gateway's CA", () => client(bench).messages.create(request(bench)), (error) => {
      isA(error, Anthropic.APIConnectionError);
    });
  },
};
