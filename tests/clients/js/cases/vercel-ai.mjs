// The Vercel AI SDK (`ai` with `@ai-sdk/openai`) through `provider.chat(model)`, which speaks
// Chat Completions: text whole and streamed, tool calls the SDK executes, embeddings, and the
// gateway's errors as the SDK's APICallError.
//
// The SDK's default model, `provider(model)`, calls /v1/responses instead; its cases (generateText,
// streamText and a tool call through it) belong here as more entries once the gateway serves it.

import assert from "node:assert/strict";

import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, embed, embedMany, generateText, streamText, tool } from "ai";
import { z } from "zod";

import { rejects, standInVector } from "../check.mjs";

function provider(bench, key = bench.keys.app) {
  return createOpenAI({ baseURL: bench.baseURL, apiKey: key });
}

const PROMPT = "What is the weather in Paris?";

function weatherTools(bench, executed) {
  return {
    [bench.toolCall.name]: tool({
      description: "The weather in a city",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        executed.push(city);
        return `18 °C and sunny in ${city}`;
      },
    }),
  };
}

function checkToolRun(bench, toolCalls, toolResults, executed) {
  assert.equal(toolCalls.length, 1, "one tool call");
  assert.equal(toolCalls[0].toolName, bench.toolCall.name);
  assert.deepEqual(toolCalls[0].input, bench.toolCall.arguments);
  assert.deepEqual(executed, [bench.toolCall.arguments.city], "the SDK ran the tool");
  assert.equal(toolResults[0].output, `18 °C and sunny in ${bench.toolCall.arguments.city}`);
}

// streamText of the chat model. It reports errors to onError instead of throwing them:
// `failure()` rethrows the first one.
function streamChat(bench, model, options = {}) {
  const failures = [];
  const result = streamText({
    model: provider(bench).chat(model),
    prompt: PROMPT,
    maxRetries: 0,
    onError: ({ error }) => failures.push(error),
    ...options,
  });
  const failure = () => {
    if (failures.length) throw failures[0];
  };
  return { result, failure };
}

function checkApiCallError(error, status, code) {
  assert.ok(APICallError.isInstance(error), `expected APICallError, got ${error?.constructor?.name}`);
  assert.equal(error.statusCode, status, "statusCode");
  if (code !== undefined) {
    assert.equal(JSON.parse(error.responseBody).error.code, code, "the gateway's error code");
  }
}

export const cases = {
  async chat(bench) {
    const result = await generateText({
      model: provider(bench).chat(bench.models.chat),
      prompt: PROMPT,
      maxRetries: 0,
    });
    assert.equal(result.text, bench.answer);
    assert.equal(result.finishReason, "stop");
    assert.equal(result.usage.inputTokens, 11);
    assert.equal(result.usage.outputTokens, bench.answer.split(" ").length);
  },

  async "chat-stream"(bench) {
    const { result, failure } = streamChat(bench, bench.models.chat);
    let text = "";
    for await (const delta of result.textStream) {
      text += delta;
    }
    failure();
    assert.equal(text, bench.answer);
    assert.equal((await result.usage).inputTokens, 11, "usage from the stream's last chunk");
    assert.equal(await result.finishReason, "stop");
  },

  async tools(bench) {
    const executed = [];
    const result = await generateText({
      model: provider(bench).chat(bench.models.chat),
      prompt: PROMPT,
      tools: weatherTools(bench, executed),
      maxRetries: 0,
    });
    assert.equal(result.finishReason, "tool-calls");
    checkToolRun(bench, result.toolCalls, result.toolResults, executed);
  },

  async "tools-stream"(bench) {
    const executed = [];
    const { result, failure } = streamChat(bench, bench.models.chat, {
      tools: weatherTools(bench, executed),
    });
    let inputDeltas = 0;
    for await (const part of result.fullStream) {
      if (part.type === "tool-input-delta") inputDeltas += 1;
    }
    failure();
    checkToolRun(bench, await result.toolCalls, await result.toolResults, executed);
    assert.ok(inputDeltas > 1, `tool input came in ${inputDeltas} delta(s)`);
  },

  async embeddings(bench) {
    const model = provider(bench).embedding(bench.models.embedding);
    const many = await embedMany({ model, values: ["first", "second"], maxRetries: 0 });
    assert.equal(many.embeddings.length, 2);
    many.embeddings.forEach((vector, index) => standInVector(vector, index, bench.embeddingSize));
    assert.equal(many.usage.tokens, 6);
    const one = await embed({ model, value: "one", maxRetries: 0 });
    standInVector(one.embedding, 0, bench.embeddingSize);
  },

  async errors(bench) {
    const ask = (key, model) =>
      generateText({ model: provider(bench, key).chat(model), prompt: PROMPT, maxRetries: 0 });
    await rejects("an unknown key", () => ask(bench.keys.unknown, bench.models.chat), (error) => {
      checkApiCallError(error, 401, "invalid_api_key");
      assert.equal(error.isRetryable, false);
    });
    await rejects("a model the key may not use", () => ask(bench.keys.app, bench.models.forbidden), (error) => {
      checkApiCallError(error, 403, "model_not_allowed");
    });
    await rejects("a model nobody serves", () => ask(bench.keys.wildcard, bench.models.missing), (error) => {
      checkApiCallError(error, 404, "model_not_found");
    });
    await rejects("an upstream that cannot be reached", () => ask(bench.keys.app, bench.models.down), (error) => {
      checkApiCallError(error, 502, "upstream_failed");
      assert.equal(error.isRetryable, true);
    });
    await rejects("a key over its rate limit", async () => {
      await ask(bench.keys.limited, bench.models.chat);
      await ask(bench.keys.limited, bench.models.chat);
    }, (error) => {
      checkApiCallError(error, 429, "rate_limit_exceeded");
      assert.equal(error.isRetryable, true);
      assert.ok(Number(error.responseHeaders["retry-after"]) > 0, "Retry-After");
    });
    // A stream's failure before its first byte reaches onError as the same APICallError.
    const { result, failure } = streamChat(bench, bench.models.down);
    await result.consumeStream();
    await rejects("the same, streamed", async () => failure(), (error) => {
      checkApiCallError(error, 502, "upstream_failed");
    });
  },

  async "untrusted-certificate"(bench) {
    assert.equal(process.env.NODE_EXTRA_CA_CERTS, undefined);
    await rejects("HTTPS without the gateway's CA", () => generateText({
      model: provider(bench).chat(bench.models.chat),
      prompt: PROMPT,
      maxRetries: 0,
    }), (error) => {
      checkApiCallError(error);
      assert.equal(error.statusCode, undefined, "no HTTP status: the TLS handshake failed");
      assert.match(error.message, /verify the first certificate/);
    });
  },
};
