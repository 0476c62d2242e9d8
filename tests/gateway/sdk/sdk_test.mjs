// The official SDKs against dsv4-gateway, nothing changed but the base URL. Run by
// tests/gateway/sdk_test.cpp, which starts the service and passes in what the same request
// returned over ZeroMQ:
//   DSV4_GATEWAY_URL   http://127.0.0.1:PORT
//   DSV4_EXPECT        {"text", "prompt_tokens", "completion_tokens"} of the flash request below
//   DSV4_REPLAY        {"reasoning", "tool", "arguments"}: what the replaying pro worker answers
// Prints one line per check and exits non-zero at the first failure.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const base = process.env.DSV4_GATEWAY_URL;
const expected = JSON.parse(process.env.DSV4_EXPECT);
const replay = JSON.parse(process.env.DSV4_REPLAY);
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-unused', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-unused', maxRetries: 0 });

const question = [{ role: 'user', content: 'Hello, who are you?' }];
const tools = [{
  type: 'function',
  function: {
    name: replay.tool, description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];
const anthropicTools = [{ name: replay.tool, description: 'Current weather in a city', input_schema: tools[0].function.parameters }];

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

check('openai chat, whole: text and token counts equal ZeroMQ', async () => {
  const r = await openai.chat.completions.create({ model: 'deepseek-v4-flash', messages: question, max_tokens: 8, temperature: 0 });
  assert.equal(r.choices[0].message.content, expected.text);
  assert.equal(r.usage.prompt_tokens, expected.prompt_tokens);
  assert.equal(r.usage.completion_tokens, expected.completion_tokens);
});

check('openai chat, streamed: the deltas add up to the same text, usage last', async () => {
  const stream = await openai.chat.completions.create({
    model: 'deepseek-v4-flash', messages: question, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, expected.text);
  assert.equal(usage.completion_tokens, expected.completion_tokens);
});

check('anthropic messages, whole and streamed: same text and counts', async () => {
  const r = await anthropic.messages.create({ model: 'deepseek-v4-flash', max_tokens: 8, temperature: 0, messages: question });
  assert.equal(r.content[0].type, 'text');
  assert.equal(r.content[0].text, expected.text);
  assert.equal(r.usage.input_tokens, expected.prompt_tokens);
  assert.equal(r.usage.output_tokens, expected.completion_tokens);
  const stream = anthropic.messages.stream({ model: 'deepseek-v4-flash', max_tokens: 8, temperature: 0, messages: question });
  const final = await stream.finalMessage();
  assert.equal(final.content.map((b) => b.text).join(''), expected.text);
  assert.equal(final.stop_reason, r.stop_reason);
});

check('openai: reasoning_content and a tool call, answered with a tool message', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await openai.chat.completions.create({
    model: 'deepseek-v4-pro', messages, tools, tool_choice: 'auto', reasoning_effort: 'high', max_tokens: 200,
  });
  const m = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(m.reasoning_content, replay.reasoning);
  assert.equal(m.tool_calls.length, 1);
  assert.equal(m.tool_calls[0].function.name, replay.tool);
  assert.deepEqual(JSON.parse(m.tool_calls[0].function.arguments), replay.arguments);
  assert.ok(r.usage.completion_tokens_details.reasoning_tokens > 0);
  messages.push(m, { role: 'tool', tool_call_id: m.tool_calls[0].id, content: '{"temperature_c": 21}' });
  const next = await openai.chat.completions.create({ model: 'deepseek-v4-pro', messages, tools, reasoning_effort: 'high', max_tokens: 200 });
  assert.ok(next.usage.prompt_tokens > r.usage.prompt_tokens);

  // The same streamed: reasoning deltas, then one tool-call delta.
  const stream = await openai.chat.completions.create({
    model: 'deepseek-v4-pro', messages: messages.slice(0, 1), tools, reasoning_effort: 'high', max_tokens: 200, stream: true,
  });
  let reasoning = '';
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    reasoning += c.delta.reasoning_content ?? '';
    for (const t of c.delta.tool_calls ?? []) calls.push(t);
    finish = c.finish_reason ?? finish;
  }
  assert.equal(reasoning, replay.reasoning);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, replay.tool);
  assert.equal(finish, 'tool_calls');
});

check('anthropic: a thinking block and tool_use, answered with tool_result', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await anthropic.messages.create({
    model: 'deepseek-v4-pro', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 512 }, tools: anthropicTools, messages,
  });
  assert.equal(r.stop_reason, 'tool_use');
  assert.deepEqual(r.content.map((b) => b.type), ['thinking', 'tool_use']);
  assert.equal(r.content[0].thinking, replay.reasoning);
  assert.equal(r.content[1].name, replay.tool);
  assert.deepEqual(r.content[1].input, replay.arguments);
  messages.push({ role: 'assistant', content: r.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: r.content[1].id, content: '21 degrees' }] });
  const next = await anthropic.messages.create({
    model: 'deepseek-v4-pro', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 512 }, tools: anthropicTools, messages,
  });
  assert.ok(next.usage.input_tokens > r.usage.input_tokens);
  const stream = anthropic.messages.stream({
    model: 'deepseek-v4-pro', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 512 }, tools: anthropicTools, messages: messages.slice(0, 1),
  });
  const final = await stream.finalMessage();
  assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'tool_use']);
  assert.deepEqual(final.content[1].input, replay.arguments);
});

check('bad requests raise the SDKs\' own error classes', async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'deepseek-v4-flash', messages: [] }), OpenAI.BadRequestError);
  await assert.rejects(openai.chat.completions.create({ model: 'no-such-model', messages: question }), OpenAI.NotFoundError);
  await assert.rejects(anthropic.messages.create({ model: 'deepseek-v4-flash', max_tokens: 0, messages: question }), Anthropic.BadRequestError);
  const models = await openai.models.list();
  assert.ok(models.data.some((m) => m.id === 'deepseek-v4-pro'));
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    console.log(`ok     ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED ${name}\n${e.stack ?? e}`);
  }
}
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
