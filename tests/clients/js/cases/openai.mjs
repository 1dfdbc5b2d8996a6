// The official `openai` npm package: chat completions whole and streamed, tool calls, embeddings,
// the model list, and the gateway's errors as the package's own error classes.

import assert from "node:assert/strict";

import OpenAI from "openai";

import { gatewayError, isA, rejects, standInVector } from "../check.mjs";

function client(bench, key = bench.keys.app) {
  return new OpenAI({ baseURL: bench.baseURL, apiKey: key, maxRetries: 0, timeout: 30_000 });
}

const ASK = [{ role: "user", content: "What is the weather in Paris?" }];

function weatherTool(bench) {
  return {
    type: "function",
    function: {
      name: bench.toolCall.name,
      description: "The weather in a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      },
    },
  };
}

function checkToolCall(bench, message) {
  assert.equal(message.tool_calls?.length, 1, "one tool call");
  const [call] = message.tool_calls;
  assert.equal(call.type, "function");
  assert.equal(call.function.name, bench.toolCall.name);
  assert.deepEqual(JSON.parse(call.function.arguments), bench.toolCall.arguments);
  return call;
}

export const cases = {
  async chat(bench) {
    const answer = await client(bench).chat.completions.create({
      model: bench.models.chat,
      messages: ASK,
    });
    assert.equal(answer.object, "chat.completion");
    assert.equal(answer.choices[0].message.content, bench.answer);
    assert.equal(answer.choices[0].finish_reason, "stop");
    assert.equal(answer.usage.prompt_tokens, 11);
    // The gateway's own headers come through the package's raw response too.
    const { response } = await client(bench)
      .chat.completions.create({ model: bench.models.chat, messages: ASK })
      .withResponse();
    assert.match(response.headers.get("x-request-id") ?? "", /^req_/);
    assert.ok(response.headers.get("x-ratelimit-limit-requests"), "the key's limit headers");
  },

  async "chat-stream"(bench) {
    const stream = await client(bench).chat.completions.create({
      model: bench.models.chat,
      messages: ASK,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, bench.answer);
    assert.equal(usage?.prompt_tokens, 11, "usage in the last chunk");
    // The package's stream helper assembles the same answer.
    const helper = client(bench).chat.completions.stream({
      model: bench.models.chat,
      messages: ASK,
    });
    const final = await helper.finalChatCompletion();
    assert.equal(final.choices[0].message.content, bench.answer);
  },

  async tools(bench) {
    const openai = client(bench);
    const first = await openai.chat.completions.create({
      model: bench.models.chat,
      messages: ASK,
      tools: [weatherTool(bench)],
      tool_choice: "auto",
    });
    assert.equal(first.choices[0].finish_reason, "tool_calls");
    const call = checkToolCall(bench, first.choices[0].message);
    // The round trip: the tool's result goes back, the model answers in text.
    const second = await openai.chat.completions.create({
      model: bench.models.chat,
      messages: [
        ...ASK,
        first.choices[0].message,
        { role: "tool", tool_call_id: call.id, content: "18 °C and sunny" },
      ],
    });
    assert.equal(second.choices[0].message.content, bench.answer);
  },

  async "tools-stream"(bench) {
    const stream = client(bench).chat.completions.stream({
      model: bench.models.chat,
      messages: ASK,
      tools: [weatherTool(bench)],
    });
    let argumentFragments = 0;
    stream.on("tool_calls.function.arguments.delta", () => {
      argumentFragments += 1;
    });
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    checkToolCall(bench, final.choices[0].message);
    assert.ok(argumentFragments > 1, `arguments came in ${argumentFragments} fragment(s)`);
  },

  async embeddings(bench) {
    const openai = client(bench);
    // The package asks for base64 by default and decodes it.
    const many = await openai.embeddings.create({
      model: bench.models.embedding,
      input: ["first", "second"],
    });
    assert.equal(many.data.length, 2);
    many.data.forEach((item, index) => {
      assert.equal(item.index, index);
      standInVector(item.embedding, index, bench.embeddingSize);
    });
    assert.equal(many.usage.prompt_tokens, 6);
    const floats = await openai.embeddings.create({
      model: bench.models.embedding,
      input: "one",
      encoding_format: "float",
    });
    standInVector(floats.data[0].embedding, 0, bench.embeddingSize);
  },

  async models(bench) {
    const openai = client(bench);
    const ids = [];
    for await (const model of openai.models.list()) {
      assert.equal(model.object, "model");
      ids.push(model.id);
    }
    // Only what the key may use.
    const allowed = [bench.models.chat, bench.models.embedding, bench.models.down];
    assert.deepEqual(ids.sort(), allowed.sort());
    const one = await openai.models.retrieve(bench.models.chat);
    assert.equal(one.id, bench.models.chat);
    await rejects("a model outside the allow-list", () => openai.models.retrieve(bench.models.forbidden), (error) => {
      isA(error, OpenAI.PermissionDeniedError);
    });
  },

  async errors(bench) {
    const ask = (key, model, extra = {}) =>
      client(bench, key).chat.completions.create({ model, messages: ASK, ...extra });
    await rejects("an unknown key", () => ask(bench.keys.unknown, bench.models.chat), (error) => {
      isA(error, OpenAI.AuthenticationError);
      gatewayError(error, 401, "invalid_api_key");
    });
    await rejects("a model the key may not use", () => ask(bench.keys.app, bench.models.forbidden), (error) => {
      isA(error, OpenAI.PermissionDeniedError);
      gatewayError(error, 403, "model_not_allowed");
    });
    await rejects("a model nobody serves", () => ask(bench.keys.wildcard, bench.models.missing), (error) => {
      isA(error, OpenAI.NotFoundError);
      gatewayError(error, 404, "model_not_found");
      assert.equal(error.param, "model");
    });
    await rejects("a malformed request", () => ask(bench.keys.app, bench.models.chat, { messages: "hi" }), (error) => {
      isA(error, OpenAI.BadRequestError);
      assert.equal(error.status, 400);
      assert.equal(error.param, "messages");
    });
    await rejects("an upstream that cannot be reached", () => ask(bench.keys.app, bench.models.down), (error) => {
      isA(error, OpenAI.InternalServerError);
      gatewayError(error, 502, "upstream_failed");
    });
    await rejects("the same, streamed", () => ask(bench.keys.app, bench.models.down, { stream: true }), (error) => {
      isA(error, OpenAI.InternalServerError);
      assert.equal(error.status, 502);
    });
    await rejects("a key over its rate limit", async () => {
      await ask(bench.keys.limited, bench.models.chat);
      await ask(bench.keys.limited, bench.models.chat);
    }, (error) => {
      isA(error, OpenAI.RateLimitError);
      gatewayError(error, 429, "rate_limit_exceeded");
      assert.ok(Number(error.headers.get("retry-after")) > 0, "Retry-After");
    });
  },

  async "untrusted-certificate"(bench) {
    // Run without NODE_EXTRA_CA_CERTS: the gateway's certificate must not be accepted.
    assert.equal(process.env.NODE_EXTRA_CA_CERTS, undefined);
    await rejects("HTTPS without the gateway's CA", () => client(bench).models.list(), (error) => {
      isA(error, OpenAI.APIConnectionError);
    });
  },
};
