// Runs one case of one client library against the gateway the test started:
//
//   node run.mjs <library> <case>     exit 0 when the case passed, 1 with the reason when not
//   node run.mjs --list               every library's cases, as JSON
//
// The gateway's address, keys and models come as JSON in RUNESTONE_BENCH; the CA that signed
// its certificate in NODE_EXTRA_CA_CERTS, as a user trusts a private CA. A library is a module
// in cases/ whose `cases` maps each case's name to an async function of those settings: adding
// a case is one more entry there and in the pytest list that drives them; adding a library, one
// more module here and in that list (its package pinned in package.json and package-lock.json).

import { inspect } from "node:util";

import { cases as anthropic } from "./cases/anthropic.mjs";
import { cases as langchain } from "./cases/langchain.mjs";
import { cases as openai } from "./cases/openai.mjs";
import { cases as vercelAi } from "./cases/vercel-ai.mjs";

const LIBRARIES = { openai, "vercel-ai": vercelAi, langchain, anthropic };
const CASE_TIMEOUT_MS = 60_000;

function settings() {
  const raw = process.env.RUNESTONE_BENCH;
  if (!raw) {
    throw new Error("RUNESTONE_BENCH is not set: run this from the pytest that starts the gateway");
  }
  return JSON.parse(raw);
}

async function main(argv) {
  if (argv[0] === "--list") {
    const listing = Object.fromEntries(
      Object.entries(LIBRARIES).map(([name, library]) => [name, Object.keys(library)]),
    );
    console.log(JSON.stringify(listing));
    return 0;
  }
  const [libraryName, caseName] = argv;
  const library = LIBRARIES[libraryName];
  const run = library?.[caseName];
  if (run === undefined) {
    console.error(`no case ${caseName} for library ${libraryName}; see --list`);
    return 2;
  }
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`did not finish within ${CASE_TIMEOUT_MS / 1000} s`)),
      CASE_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([run(settings()), timeout]);
  } catch (error) {
    console.error(`FAIL ${libraryName} ${caseName}: ${error?.message ?? error}`);
    console.error(inspect(error, { depth: 4 }));
    return 1;
  } finally {
    clearTimeout(timer);
  }
  console.log(`ok ${libraryName} ${caseName}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
