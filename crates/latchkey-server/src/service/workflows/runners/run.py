# Latchkey's Python step runner. Loads the step (`def handler(pd): ...`), calls it with `pd`
# (pd.inputs: the props, app props as {"$auth": {...}}; pd.steps; pd.export(name, value)) and
# writes the exports (and the return value as $return_value) as JSON to LK_EXPORTS_FILE.
import importlib.util
import json
import os
import sys

data = json.load(sys.stdin)
spec = importlib.util.spec_from_file_location("step", os.path.join(os.path.dirname(__file__), "step.py"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if not hasattr(module, "handler"):
    raise SystemExit("the step must define handler(pd)")


class PD:
    def __init__(self):
        self.inputs = data["props"]
        self.steps = data["steps"]
        self.exports = {}

    def export(self, name, value):
        self.exports[name] = value


pd = PD()
returned = module.handler(pd)
if returned is not None:
    pd.exports["$return_value"] = returned
with open(os.environ["LK_EXPORTS_FILE"], "w", encoding="utf-8") as out:
    json.dump(pd.exports, out)
