// The official `openai` npm package: chat completions whole and streamed, tool calls, embeddings,
// the model list, and the gateway's errors as the package's own error classes; the Responses API
// whole, through the `responses.stream` helper, a function-calling round trip, structured output
// (`text.format`), and stored responses (`previous_response_id`, readable by their key only);
// files and vector stores (upload, attach and poll, search) and the `file_search` tool over them.

import assert from "node:assert/strict";

import OpenAI, { toFile } from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";

import { gatewayError, isA, openaiRefusal, refusals, rejects, standInVector } from "../check.mjs";

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

// The function tool as the Responses API declares it (flat, without chat's `function` wrapper).
function weatherFunction(bench) {
  const { function: declared } = weatherTool(bench);
  return { type: "function", strict: false, ...declared };
}

function checkFunctionCall(bench, response) {
  const calls = response.output.filter((item) => item.type === "function_call");
  assert.equal(calls.length, 1, "one function call");
  const [call] = calls;
  assert.equal(call.name, bench.toolCall.name);
  assert.deepEqual(JSON.parse(call.arguments), bench.toolCall.arguments);
  assert.ok(call.call_id, "the call's id");
  return call;
}

function checkResponse(bench, response) {
  assert.equal(response.object, "response");
  assert.equal(response.status, "completed");
  assert.equal(response.output_text, bench.answer);
  assert.equal(response.usage.input_tokens, 11);
  assert.equal(response.usage.output_tokens, bench.answer.split(" ").length);
  assert.equal(response.usage.input_tokens_details.cached_tokens, 0);
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
    await refusals(bench, ask, openaiRefusal);
    await rejects("a malformed request", () => ask(bench.keys.app, bench.models.chat, { messages: "hi" }), (error) => {
      isA(error, OpenAI.BadRequestError);
      assert.equal(error.status, 400);
      assert.equal(error.param, "messages");
    });
    await rejects("an upstream that cannot be reached, streamed", () => ask(bench.keys.app, bench.models.down, { stream: true }), (error) => {
      isA(error, OpenAI.InternalServerError);
      assert.equal(error.status, 502);
    });
  },


  async responses(bench) {
    const response = await client(bench).responses.create({
      model: bench.models.chat,
      input: "What is the weather in Paris?",
      instructions: "Be brief.",
    });
    checkResponse(bench, response);
    assert.equal(response.model, bench.models.chat);
    assert.match(response.id, /^resp_/);
    const [message] = response.output;
    assert.equal(message.type, "message");
    assert.equal(message.role, "assistant");
    assert.equal(message.content[0].type, "output_text");
  },

  async "responses-stream"(bench) {
    const whole = await client(bench).responses.create({ model: bench.models.chat, input: ASK });
    const stream = client(bench).responses.stream({ model: bench.models.chat, input: ASK });
    let deltas = "";
    const sequence = [];
    stream.on("response.output_text.delta", (event) => {
      deltas += event.delta;
    });
    stream.on("event", (event) => sequence.push(event.sequence_number));
    const final = await stream.finalResponse();
    checkResponse(bench, final);
    assert.equal(final.output_text, whole.output_text, "the helper assembles the whole answer");
    assert.equal(deltas, bench.answer);
    assert.deepEqual(sequence, sequence.map((_, index) => index), "sequence numbers in order");
  },

  async "responses-tools"(bench) {
    const openai = client(bench);
    const first = await openai.responses.create({
      model: bench.models.chat,
      input: ASK,
      tools: [weatherFunction(bench)],
      tool_choice: "auto",
    });
    const call = checkFunctionCall(bench, first);
    // The round trip: the call and its output go back, the model answers in text.
    const second = await openai.responses.create({
      model: bench.models.chat,
      input: [
        ...ASK,
        call,
        { type: "function_call_output", call_id: call.call_id, output: "18 °C and sunny" },
      ],
      store: false,
    });
    assert.equal(second.output_text, bench.answer);
    assert.equal(second.store, false);
  },

  async "responses-tools-stream"(bench) {
    const stream = client(bench).responses.stream({
      model: bench.models.chat,
      input: ASK,
      tools: [weatherFunction(bench)],
    });
    let argumentFragments = 0;
    stream.on("response.function_call_arguments.delta", () => {
      argumentFragments += 1;
    });
    const final = await stream.finalResponse();
    checkFunctionCall(bench, final);
    assert.ok(argumentFragments > 1, `arguments came in ${argumentFragments} fragment(s)`);
  },

  async "responses-structured"(bench) {
    const Weather = z.object({ city: z.string(), degrees: z.number() });
    const format = zodTextFormat(Weather, "weather");
    const parsed = await client(bench).responses.parse({
      model: bench.models.chat,
      input: ASK,
      text: { format },
    });
    assert.deepEqual(parsed.output_parsed, bench.structured);
    assert.equal(parsed.text.format.type, "json_schema");
    // The stream helper parses the same.
    const streamed = await client(bench)
      .responses.stream({ model: bench.models.chat, input: ASK, text: { format } })
      .finalResponse();
    assert.deepEqual(streamed.output_parsed, bench.structured);
  },

  async "responses-stored"(bench) {
    const openai = client(bench);
    const first = await openai.responses.create({
      model: bench.models.chat,
      input: "My name is Ada.",
    });
    assert.equal(first.store, true, "stored by default with a shared store");
    const second = await openai.responses.create({
      model: bench.models.chat,
      input: "What is my name?",
      previous_response_id: first.id,
    });
    assert.equal(second.previous_response_id, first.id);
    assert.equal(second.output_text, bench.answer);
    const read = await openai.responses.retrieve(first.id);
    assert.equal(read.id, first.id);
    assert.equal(read.output_text, first.output_text);
    const items = [];
    for await (const item of openai.responses.inputItems.list(second.id)) items.push(item);
    assert.deepEqual(
      items.map((item) => item.content[0].text),
      ["What is my name?"],
      "the second request's own input items",
    );

    // Another key learns nothing of it: as if it did not exist.
    const other = client(bench, bench.keys.wildcard);
    await rejects("another key reading it", () => other.responses.retrieve(first.id), (error) => {
      isA(error, OpenAI.NotFoundError);
      assert.equal(error.status, 404);
    });
    await rejects("another key continuing it", () => other.responses.create({
      model: bench.models.chat,
      input: "What is my name?",
      previous_response_id: first.id,
    }), (error) => {
      isA(error, OpenAI.BadRequestError);
      gatewayError(error, 400, "previous_response_not_found");
      assert.equal(error.param, "previous_response_id");
    });
    await rejects("another key deleting it", () => other.responses.delete(first.id), (error) => {
      isA(error, OpenAI.NotFoundError);
    });

    await openai.responses.delete(first.id);
    await rejects("reading it once deleted", () => openai.responses.retrieve(first.id), (error) => {
      isA(error, OpenAI.NotFoundError);
    });
  },

  async "responses-errors"(bench) {
    const ask = (key, model, extra = {}) =>
      client(bench, key).responses.create({ model, input: ASK, ...extra });
    await refusals(bench, ask, openaiRefusal);
    await rejects("a tool type the gateway cannot run", () => ask(bench.keys.app, bench.models.chat, {
      tools: [{ type: "web_search" }],
    }), (error) => {
      isA(error, OpenAI.BadRequestError);
      assert.equal(error.status, 400);
      assert.equal(error.param, "tools[0].type");
    });
    await rejects("an upstream that cannot be reached, streamed", () => client(bench).responses.stream({
      model: bench.models.down,
      input: ASK,
    }).finalResponse(), (error) => {
      isA(error, OpenAI.InternalServerError);
      assert.equal(error.status, 502);
    });
  },


  // The Files and Vector Stores APIs as the package calls them, then the store searched by the
  // `file_search` tool, whole (its call with the results: `include`) and through the stream
  // helper, the answer citing the file.
  async "vector-stores"(bench) {
    const search = bench.fileSearch;
    const openai = client(bench);
    const upload = (name) => toFile(Buffer.from(search.documents[name]), name);
    const [first, ...others] = Object.keys(search.documents);
    const file = await openai.files.create({ file: await upload(first), purpose: "assistants" });
    assert.match(file.id, /^file-/);
    assert.equal(file.filename, first);
    assert.equal(file.bytes, Buffer.byteLength(search.documents[first]));
    const store = await openai.vectorStores.create({ name: "js-documents" });
    assert.match(store.id, /^vs_/);
    const ids = {};
    const attached = await openai.vectorStores.files.createAndPoll(store.id, { file_id: file.id });
    assert.equal(attached.status, "completed", JSON.stringify(attached.last_error));
    ids[first] = attached.id;
    for (const name of others) {
      const uploaded = await openai.vectorStores.files.uploadAndPoll(store.id, await upload(name));
      assert.equal(uploaded.status, "completed", JSON.stringify(uploaded.last_error));
      ids[name] = uploaded.id;
    }
    const counted = await openai.vectorStores.retrieve(store.id);
    assert.equal(counted.file_counts.completed, Object.keys(search.documents).length);

    const found = [];
    for await (const result of openai.vectorStores.search(store.id, { query: search.question })) {
      found.push(result);
    }
    assert.ok(found.length > 0, "the search found something");
    assert.equal(found[0].filename, search.cited);
    assert.equal(found[0].file_id, ids[search.cited]);
    assert.equal(found[0].content[0].text, search.documents[search.cited]);

    const response = await openai.responses.create({
      model: bench.models.chat,
      input: search.question,
      tools: [{ type: "file_search", vector_store_ids: [store.id] }],
      include: ["file_search_call.results"],
    });
    const [call, message] = response.output;
    assert.equal(call.type, "file_search_call");
    assert.match(call.id, /^fs_/);
    assert.equal(call.status, "completed");
    assert.deepEqual(call.queries, [search.question]);
    assert.equal(call.results[0].filename, search.cited);
    assert.equal(call.results[0].file_id, ids[search.cited]);
    assert.equal(call.results[0].text, search.documents[search.cited]);
    assert.equal(response.output_text, search.answer);
    assert.deepEqual(message.content[0].annotations, [
      {
        type: "file_citation",
        file_id: ids[search.cited],
        filename: search.cited,
        index: search.answer.length - 1,
      },
    ]);

    // The stream helper: the search's events, then the answer with its citation's event.
    const stream = openai.responses.stream({
      model: bench.models.chat,
      input: search.question,
      tools: [{ type: "file_search", vector_store_ids: [store.id] }],
    });
    const searching = [];
    const cited = [];
    stream.on("event", (event) => {
      if (event.type.startsWith("response.file_search_call.")) searching.push(event.type);
    });
    stream.on("response.output_text.annotation.added", (event) => cited.push(event.annotation));
    const final = await stream.finalResponse();
    assert.deepEqual(searching.map((type) => type.split(".").pop()), [
      "in_progress",
      "searching",
      "completed",
    ]);
    assert.equal(final.output_text, search.answer);
    assert.equal(final.output[0].results, null, "results only when included");
    assert.deepEqual(cited, final.output[1].content[0].annotations);
    assert.equal(cited[0].file_id, ids[search.cited]);

    // Another key learns nothing of the store.
    const other = client(bench, bench.keys.wildcard);
    await rejects("another key searching it", () => other.vectorStores.search(store.id, {
      query: search.question,
    }), (error) => {
      isA(error, OpenAI.NotFoundError);
    });
    const deleted = await openai.vectorStores.delete(store.id);
    assert.equal(deleted.deleted, true);
    for (const id of Object.values(ids)) {
      assert.equal((await openai.files.delete(id)).deleted, true);
    }
  },

  async "untrusted-certificate"(bench) {
    // Run without NODE_EXTRA_CA_CERTS: the gateway's certificate must not be accepted.
    assert.equal(process.env.NODE_EXTRA_CA_CERTS, undefined);
    await rejects("HTTPS without the gateway's CA", () => client(bench).models.list(), (error) => {
      isA(error, OpenAI.APIConnectionError);
    });
  },
};
