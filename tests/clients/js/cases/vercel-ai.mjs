// The Vercel AI SDK (`ai` with `@ai-sdk/openai`) through both of its OpenAI models: the default,
// `provider(model)`, which speaks the Responses API, and `provider.chat(model)`, which speaks Chat
// Completions. Through each: text whole and streamed, a tool the SDK executes (then the next step
// with its result), a streamed tool call, and the gateway's errors as the SDK's APICallError;
// embeddings besides. Through the default model, the provider's `file_search` tool over a vector
// store of the gateway's, whose citations the SDK turns into the answer's sources.

import assert from "node:assert/strict";

import { createOpenAI } from "@ai-sdk/openai";
import {
  APICallError,
  Output,
  embed,
  embedMany,
  generateText,
  stepCountIs,
  streamText,
  tool,
} from "ai";
import { z } from "zod";

import { REFUSAL_CODES, refusals, rejects, standInVector } from "../check.mjs";

// `sent`, when given, collects the JSON body of every request the provider makes.
function provider(bench, key = bench.keys.app, sent = undefined) {
  const recording = async (url, init) => {
    sent.push(JSON.parse(init.body));
    return fetch(url, init);
  };
  return createOpenAI({ baseURL: bench.baseURL, apiKey: key, fetch: sent && recording });
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

// streamText reports errors to onError instead of throwing them: `failure()` rethrows the first.
function streamWith(model, options = {}) {
  const failures = [];
  const result = streamText({
    model,
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

// The answer's one source: the cited file, by its name and id, where the citation stood.
function checkSources(search, sources) {
  assert.equal(sources.length, 1, `one source: ${JSON.stringify(sources)}`);
  const [source] = sources;
  assert.equal(source.sourceType, "document");
  assert.equal(source.filename, search.cited);
  assert.equal(source.title, search.cited);
  const cited = source.providerMetadata.openai;
  assert.equal(cited.type, "file_citation");
  assert.equal(cited.fileId, search.fileIds[search.cited]);
  assert.equal(cited.index, search.answer.length - 1, "the citation's place: before the period");
}

// The search as a tool call the provider executed, and its result: the question as the query,
// and (when the request included them) the results, the cited file's chunk first.
function checkSearch(search, toolCalls, toolResults, { results }) {
  assert.equal(toolCalls.length, 1, "one search");
  const [call] = toolCalls;
  assert.equal(call.toolName, "file_search");
  assert.equal(call.providerExecuted, true, "run by the provider, not the SDK");
  assert.match(call.toolCallId, /^fs_/);
  assert.equal(toolResults.length, 1, "its result");
  const [{ toolCallId, output }] = toolResults;
  assert.equal(toolCallId, call.toolCallId);
  assert.deepEqual(output.queries, [search.question]);
  if (!results) {
    assert.equal(output.results, null, "results only when included");
    return;
  }
  const [best] = output.results;
  assert.equal(best.filename, search.cited);
  assert.equal(best.fileId, search.fileIds[search.cited]);
  assert.equal(best.text, search.documents[search.cited]);
  assert.ok(best.score > 0, `score ${best.score}`);
  assert.deepEqual(best.attributes, {});
}

function checkApiCallError(error, status, code) {
  assert.ok(APICallError.isInstance(error), `expected APICallError, got ${error?.constructor?.name}`);
  assert.equal(error.statusCode, status, "statusCode");
  if (code !== undefined) {
    assert.equal(JSON.parse(error.responseBody).error.code, code, "the gateway's error code");
  }
}

// The same cases through each of the provider's OpenAI models: `api` makes the model from the
// provider, `names` names each case, and `checkSentBack` judges the request that carried the
// tool's result back.
function apiCases(api, names, checkSentBack) {
  const model = (bench, name = bench.models.chat, key = bench.keys.app, sent = undefined) =>
    api(provider(bench, key, sent), name);
  return {
    async [names.text](bench) {
      const result = await generateText({ model: model(bench), prompt: PROMPT, maxRetries: 0 });
      assert.equal(result.text, bench.answer);
      assert.equal(result.finishReason, "stop");
      assert.equal(result.usage.inputTokens, 11);
      assert.equal(result.usage.outputTokens, bench.answer.split(" ").length);
    },

    async [names.stream](bench) {
      const { result, failure } = streamWith(model(bench));
      let text = "";
      for await (const delta of result.textStream) {
        text += delta;
      }
      failure();
      assert.equal(text, bench.answer);
      assert.equal((await result.usage).inputTokens, 11, "usage from the stream's end");
      assert.equal(await result.finishReason, "stop");
    },

    async [names.tools](bench) {
      const executed = [];
      const sent = [];
      // Two steps: the model calls the tool, the SDK runs it and sends its result back; the
      // second step offers no tools, so the stand-in answers in text.
      const result = await generateText({
        model: model(bench, bench.models.chat, bench.keys.app, sent),
        prompt: PROMPT,
        tools: weatherTools(bench, executed),
        stopWhen: stepCountIs(2),
        prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { activeTools: [] } : undefined),
        maxRetries: 0,
      });
      assert.equal(result.steps.length, 2, "the tool's step and the answer's");
      const [called] = result.steps;
      assert.equal(called.finishReason, "tool-calls");
      checkToolRun(bench, called.toolCalls, called.toolResults, executed);
      assert.equal(result.text, bench.answer);
      assert.equal(result.finishReason, "stop");
      assert.equal(sent.length, 2, "one request a step");
      checkSentBack(sent[1]);
    },

    async [names.toolsStream](bench) {
      const executed = [];
      const { result, failure } = streamWith(model(bench), {
        tools: weatherTools(bench, executed),
      });
      let inputDeltas = 0;
      for await (const part of result.fullStream) {
        if (part.type === "tool-input-delta") inputDeltas += 1;
      }
      failure();
      assert.equal(await result.finishReason, "tool-calls");
      checkToolRun(bench, await result.toolCalls, await result.toolResults, executed);
      assert.ok(inputDeltas > 1, `tool input came in ${inputDeltas} delta(s)`);
    },

    async [names.errors](bench) {
      const ask = (key, name) =>
        generateText({ model: model(bench, name, key), prompt: PROMPT, maxRetries: 0 });
      await refusals(bench, ask, (error, status) => {
        checkApiCallError(error, status, REFUSAL_CODES[status]);
        // The SDK retries what the gateway says may pass on a retry (with maxRetries above 0).
        assert.equal(error.isRetryable, status >= 429, "isRetryable");
        if (status === 429) {
          assert.ok(Number(error.responseHeaders["retry-after"]) > 0, "Retry-After");
        }
      });
      // A stream's failure before its first byte reaches onError as the same APICallError.
      const { result, failure } = streamWith(model(bench, bench.models.down));
      await result.consumeStream();
      await rejects("an upstream that cannot be reached, streamed", async () => failure(), (error) => {
        checkApiCallError(error, 502, "upstream_failed");
      });
    },

  };
}

export const cases = {
  ...apiCases((openai, name) => openai.chat(name), {
    text: "chat",
    stream: "chat-stream",
    tools: "tools",
    toolsStream: "tools-stream",
    errors: "errors",
  }, (body) => {
    assert.deepEqual(body.messages.map((message) => message.role), ["user", "assistant", "tool"]);
  }),

  ...apiCases((openai, name) => openai(name), {
    text: "responses",
    stream: "responses-stream",
    tools: "responses-tools",
    toolsStream: "responses-tools-stream",
    errors: "responses-errors",
  }, (body) => {
    assert.deepEqual(
      body.input.map((item) => item.type ?? item.role),
      ["user", "function_call", "function_call_output"],
    );
  }),

  // Structured output: the SDK asks for JSON in the schema (`text.format`) and parses it.
  async "responses-structured"(bench) {
    const schema = z.object({ city: z.string(), degrees: z.number() });
    const result = await generateText({
      model: provider(bench)(bench.models.chat),
      prompt: PROMPT,
      output: Output.object({ schema }),
      maxRetries: 0,
    });
    assert.deepEqual(result.output, bench.structured);
  },

  // A conversation's next turn: with stored responses (the SDK's default), the model's earlier
  // text goes back as a reference to its item, which the gateway resolves from the shared store.
  async "responses-conversation"(bench) {
    const sent = [];
    const model = provider(bench, bench.keys.app, sent)(bench.models.chat);
    const question = { role: "user", content: "My name is Ada." };
    const first = await generateText({ model, messages: [question], maxRetries: 0 });
    const second = await generateText({
      model,
      messages: [question, ...first.response.messages, { role: "user", content: "My name?" }],
      maxRetries: 0,
    });
    assert.equal(second.text, bench.answer);
    const [reference] = sent[1].input.filter((item) => item.type === "item_reference");
    assert.ok(reference, `the earlier answer as a reference: ${JSON.stringify(sent[1].input)}`);
    const [answered] = first.response.messages;
    const text = answered.content.find((part) => part.type === "text");
    assert.equal(reference.id, text.providerOptions.openai.itemId, "the first answer's item");
    // Without stored responses the SDK sends the text itself, and the gateway takes that too.
    const unstored = await generateText({
      model,
      messages: [question, ...first.response.messages, { role: "user", content: "My name?" }],
      providerOptions: { openai: { store: false } },
      maxRetries: 0,
    });
    assert.equal(unstored.text, bench.answer);
    assert.equal(sent[2].input[1].role, "assistant");
  },

  // file_search runs in the gateway: the SDK reads its `file_search_call` as a tool call the
  // provider executed, with its result, and each `file_citation` as a document source.
  async "responses-file-search"(bench) {
    const search = bench.fileSearch;
    const sent = [];
    const openai = provider(bench, bench.keys.app, sent);
    const result = await generateText({
      model: openai(bench.models.chat),
      prompt: search.question,
      tools: { file_search: openai.tools.fileSearch({ vectorStoreIds: [search.vectorStoreId] }) },
      providerOptions: { openai: { include: ["file_search_call.results"] } },
      maxRetries: 0,
    });
    assert.deepEqual(sent[0].tools, [
      { type: "file_search", vector_store_ids: [search.vectorStoreId] },
    ], "the tool as the SDK sends it");
    assert.equal(result.text, search.answer);
    assert.equal(result.finishReason, "stop");
    checkSources(search, result.sources);
    checkSearch(search, result.toolCalls, result.toolResults, { results: true });

    // The next turn names the search and the answer by their items (stored responses, the
    // SDK's default), which the gateway resolves from the shared store.
    const next = await generateText({
      model: openai(bench.models.chat),
      messages: [
        { role: "user", content: search.question },
        ...result.response.messages,
        { role: "user", content: "Thank you." },
      ],
      maxRetries: 0,
    });
    assert.equal(next.text, bench.answer);
    const references = sent[1].input.filter((item) => item.type === "item_reference");
    assert.deepEqual(
      references.map((item) => item.id.slice(0, 3)),
      ["fs_", "msg"],
      `the search and the answer as references: ${JSON.stringify(sent[1].input)}`,
    );
  },

  // Streamed, the search forced (`toolChoice`): the search's call and result, then the answer's
  // deltas with its source.
  async "responses-file-search-stream"(bench) {
    const search = bench.fileSearch;
    const sent = [];
    const openai = provider(bench, bench.keys.app, sent);
    const { result, failure } = streamWith(openai(bench.models.chat), {
      prompt: search.question,
      tools: { file_search: openai.tools.fileSearch({ vectorStoreIds: [search.vectorStoreId] }) },
      toolChoice: { type: "tool", toolName: "file_search" },
    });
    const kinds = [];
    let text = "";
    for await (const part of result.fullStream) {
      if (["tool-call", "tool-result", "source"].includes(part.type)) kinds.push(part.type);
      if (part.type === "text-delta") {
        text += part.text;
        if (!kinds.includes("text")) kinds.push("text");
      }
    }
    failure();
    assert.deepEqual(sent[0].tool_choice, { type: "file_search" });
    assert.deepEqual(kinds, ["tool-call", "tool-result", "text", "source"], "the parts in order");
    assert.equal(text, search.answer);
    assert.equal(await result.finishReason, "stop");
    checkSources(search, await result.sources);
    const [toolCalls, toolResults] = [await result.toolCalls, await result.toolResults];
    checkSearch(search, toolCalls, toolResults, { results: false });
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
