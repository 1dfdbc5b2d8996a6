// LangChain.js (`@langchain/openai` with `@langchain/core`): ChatOpenAI whole and streamed, tools
// bound to the model and a full tool round trip, over Chat Completions and over the Responses API
// (`useResponsesApi: true`); the built-in `file_search` tool over a vector store of the gateway's,
// its citation in the message's content, and the next turn carrying it back; OpenAIEmbeddings,
// and the gateway's errors as the `openai` package's error classes carrying LangChain's error
// codes.

import assert from "node:assert/strict";

import { HumanMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI, OpenAIEmbeddings, tools } from "@langchain/openai";
import OpenAI from "openai";
import { z } from "zod";

import { isA, openaiRefusal, refusals, rejects, standInVector } from "../check.mjs";

// `sent`, when given, collects the JSON body of every request the model makes.
function chat(
  bench,
  { key = bench.keys.app, model = bench.models.chat, responses = false, sent = undefined } = {},
) {
  const recording = async (url, init) => {
    sent.push(JSON.parse(init.body));
    return fetch(url, init);
  };
  return new ChatOpenAI({
    model,
    apiKey: key,
    configuration: { baseURL: bench.baseURL, ...(sent && { fetch: recording }) },
    maxRetries: 0,
    useResponsesApi: responses,
  });
}

// The answer's citation as LangChain keeps it: an annotation of its text block.
function checkCitation(search, message) {
  assert.equal(message.text, search.answer);
  const texts = message.content.filter((block) => block.type === "text");
  assert.equal(texts.length, 1, `one text block: ${JSON.stringify(message.content)}`);
  assert.deepEqual(texts[0].annotations, [
    {
      type: "citation",
      source: "file_citation",
      title: search.cited,
      file_id: search.fileIds[search.cited],
      startIndex: search.answer.length - 1,
    },
  ]);
  assert.deepEqual(message.tool_calls, [], "nothing for LangChain to run");
}

const PROMPT = "What is the weather in Paris?";

function weatherTool(bench) {
  return tool(async ({ city }) => `18 °C and sunny in ${city}`, {
    name: bench.toolCall.name,
    description: "The weather in a city",
    schema: z.object({ city: z.string() }),
  });
}

function checkToolCall(bench, message) {
  assert.equal(message.tool_calls?.length, 1, "one tool call");
  const [call] = message.tool_calls;
  assert.equal(call.name, bench.toolCall.name);
  assert.deepEqual(call.args, bench.toolCall.arguments);
  return call;
}

async function concatenated(stream) {
  let whole;
  for await (const chunk of stream) {
    whole = whole === undefined ? chunk : whole.concat(chunk);
  }
  return whole;
}

// The same cases over each API ChatOpenAI speaks: `responses` is its useResponsesApi, `names`
// names each case.
function apiCases(responses, names) {
  const model = (bench) => chat(bench, { responses });
  return {
    async [names.text](bench) {
      const message = await model(bench).invoke(PROMPT);
      assert.equal(message.text, bench.answer);
      assert.equal(message.usage_metadata?.input_tokens, 11);
      assert.equal(message.usage_metadata?.output_tokens, bench.answer.split(" ").length);
      if (responses) {
        assert.equal(message.response_metadata?.status, "completed");
        assert.match(message.response_metadata?.id ?? "", /^resp_/);
      } else {
        assert.equal(message.response_metadata?.finish_reason, "stop");
      }
    },

    async [names.stream](bench) {
      const message = await concatenated(await model(bench).stream(PROMPT));
      assert.equal(message.text, bench.answer);
      assert.equal(message.usage_metadata?.input_tokens, 11, "usage from the stream");
    },

    async [names.tools](bench) {
      const weather = weatherTool(bench);
      const question = new HumanMessage(PROMPT);
      const called = await model(bench).bindTools([weather]).invoke([question]);
      const call = checkToolCall(bench, called);
      // The round trip: LangChain runs the tool, its result goes back, the model answers.
      const result = await weather.invoke(call);
      assert.equal(result.tool_call_id, call.id);
      const answer = await model(bench).invoke([question, called, result]);
      assert.equal(answer.text, bench.answer);
    },

    async [names.toolsStream](bench) {
      const chunks = await model(bench).bindTools([weatherTool(bench)]).stream(PROMPT);
      let pieces = 0;
      let whole;
      for await (const chunk of chunks) {
        if (chunk.tool_call_chunks?.some((piece) => piece.args)) pieces += 1;
        whole = whole === undefined ? chunk : whole.concat(chunk);
      }
      checkToolCall(bench, whole);
      assert.ok(pieces > 1, `arguments came in ${pieces} chunk(s)`);
    },
  };
}

export const cases = {
  ...apiCases(false, {
    text: "chat",
    stream: "chat-stream",
    tools: "tools",
    toolsStream: "tools-stream",
  }),

  ...apiCases(true, {
    text: "responses",
    stream: "responses-stream",
    tools: "responses-tools",
    toolsStream: "responses-tools-stream",
  }),

  // The built-in tool, bound as OpenAI documents it: the gateway searches the store, and the
  // message keeps the search (`tool_outputs`) and the citation; the next turn sends both back.
  async "responses-file-search"(bench) {
    const search = bench.fileSearch;
    const fileSearch = { type: "file_search", vector_store_ids: [search.vectorStoreId] };
    const sent = [];
    const model = chat(bench, { responses: true, sent });
    const question = new HumanMessage(search.question);
    const message = await model
      .bindTools([fileSearch])
      .invoke([question], { include: ["file_search_call.results"] });
    checkCitation(search, message);
    const [call] = message.additional_kwargs.tool_outputs;
    assert.equal(call.type, "file_search_call");
    assert.equal(call.status, "completed");
    assert.deepEqual(call.queries, [search.question]);
    assert.equal(call.results[0].filename, search.cited);
    assert.equal(call.results[0].file_id, search.fileIds[search.cited]);
    assert.deepEqual(sent[0].tools, [fileSearch]);
    assert.deepEqual(sent[0].include, ["file_search_call.results"]);

    const next = await model.invoke([question, message, new HumanMessage("Thank you.")]);
    assert.equal(next.text, bench.answer);
    const carried = sent[1].input.map((item) => item.role ?? item.type);
    assert.deepEqual(carried, ["user", "file_search_call", "assistant", "user"]);
    const answered = sent[1].input[2];
    assert.equal(answered.content[0].annotations[0].file_id, search.fileIds[search.cited]);
  },

  // Streamed, with the tool as the package's own helper makes it (`tools.fileSearch`), asking
  // for the one best result.
  async "responses-file-search-stream"(bench) {
    const search = bench.fileSearch;
    const fileSearch = tools.fileSearch({ vectorStoreIds: [search.vectorStoreId], maxNumResults: 1 });
    const sent = [];
    const model = chat(bench, { responses: true, sent }).bindTools([fileSearch]);
    const chunks = await model.stream(search.question, { include: ["file_search_call.results"] });
    const message = await concatenated(chunks);
    assert.equal(sent[0].tools[0].max_num_results, 1);
    checkCitation(search, message);
    const [call] = message.additional_kwargs.tool_outputs;
    assert.equal(call.type, "file_search_call");
    assert.deepEqual(call.queries, [search.question]);
    assert.deepEqual(call.results.map((result) => result.filename), [search.cited]);
  },

  async embeddings(bench) {
    const embeddings = new OpenAIEmbeddings({
      model: bench.models.embedding,
      apiKey: bench.keys.app,
      configuration: { baseURL: bench.baseURL },
      maxRetries: 0,
    });
    const vectors = await embeddings.embedDocuments(["first", "second"]);
    assert.equal(vectors.length, 2);
    vectors.forEach((vector, index) => standInVector(vector, index, bench.embeddingSize));
    standInVector(await embeddings.embedQuery("one"), 0, bench.embeddingSize);
  },

  async errors(bench) {
    const ask = (key, model) => chat(bench, { key, model }).invoke(PROMPT);
    const codes = { 401: "MODEL_AUTHENTICATION", 404: "MODEL_NOT_FOUND", 429: "MODEL_RATE_LIMIT" };
    await refusals(bench, ask, (error, status) => {
      openaiRefusal(error, status);
      assert.equal(error.lc_error_code, codes[status], "LangChain's error code");
    });
    await rejects("an upstream that cannot be reached, streamed", async () => concatenated(await chat(bench, { model: bench.models.down }).stream(PROMPT)), (error) => {
      isA(error, OpenAI.InternalServerError);
      assert.equal(error.status, 502);
    });
  },


  async "untrusted-certificate"(bench) {
    assert.equal(process.env.NODE_EXTRA_CA_CERTS, undefined);
    await rejects("HTTPS without the gateway's CA", () => chat(bench).invoke(PROMPT), (error) => {
      isA(error, OpenAI.APIConnectionError);
    });
  },
};
