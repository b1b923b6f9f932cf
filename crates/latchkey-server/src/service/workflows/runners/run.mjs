// Latchkey's Node.js step runner. Loads the step (`export default defineComponent({...})`),
// calls `run({ steps, $ })` with `this` holding the props (app props as { $auth: {...} }),
// and writes the exports ($.export(...) and the return value as $return_value) as JSON to
// the file named by LK_EXPORTS_FILE. stdout/stderr are the step's logs.
import fs from 'node:fs';

globalThis.defineComponent = (component) => component;
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const { default: component } = await import('./step.mjs');
if (!component || typeof component.run !== 'function') {
  throw new Error('the step must `export default defineComponent({ async run({ steps, $ }) { … } })`');
}
const exported = {};
const $ = {
  export(name, value) {
    exported[name] = value;
  },
};
const returned = await component.run.call({ ...input.props }, { steps: input.steps, $ });
if (returned !== undefined) exported.$return_value = returned;
fs.writeFileSync(process.env.LK_EXPORTS_FILE, JSON.stringify(exported));
