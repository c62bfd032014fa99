# nbconvert config for scripts/run-notebooks.sh (loaded with `jupyter nbconvert --config ...`; `c` is the traitlets
# config object). Prints one line per executed code cell to stdout; when a cell fails, prints its source and what it
# wrote (tslab reports errors on stderr, with an empty ename/evalue), and saves the notebook executed so far to
# $NCL_NB_FAILED_OUT. $NCL_NB_PROGRESS receives the index of the cell being run, for timeouts and dead kernels.
import json
import os
import time

_started = {}
_executed = {}


def _log(msg):
    print(f"    {msg}", flush=True)


def _on_cell_execute(cell, cell_index, **_):
    _started[cell_index] = time.monotonic()
    progress = os.environ.get("NCL_NB_PROGRESS")
    if progress:
        with open(progress, "w") as f:
            f.write(str(cell_index))


def _on_cell_executed(cell, cell_index, execute_reply=None, **_):
    _executed[cell_index] = cell
    status = (execute_reply or {}).get("content", {}).get("status", "?")
    took = time.monotonic() - _started.get(cell_index, time.monotonic())
    _log(f"cell {cell_index}: {status} ({took:.1f}s)")


def _output_text(cell, max_lines=40):
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}")
    lines = "".join(parts).rstrip().splitlines()
    return "\n".join(lines[-max_lines:])


def _on_cell_error(cell, cell_index, execute_reply=None, **_):
    content = (execute_reply or {}).get("content", {})
    error = ": ".join(s for s in (content.get("ename"), content.get("evalue")) if s)
    _log(f"cell {cell_index} FAILED{': ' + error if error else ''}")
    print("---- cell source ----", cell.get("source", ""), "---- cell output (tail) ----", _output_text(cell),
          "----", sep="\n", flush=True)
    out, source = os.environ.get("NCL_NB_FAILED_OUT"), os.environ.get("NCL_NB_SOURCE")
    if out and source:
        with open(source) as f:
            nb = json.load(f)
        for i, executed in _executed.items():
            nb["cells"][i] = executed
        with open(out, "w") as f:
            json.dump(nb, f, indent=1)


c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.ExecutePreprocessor.on_cell_execute = _on_cell_execute
c.ExecutePreprocessor.on_cell_executed = _on_cell_executed
c.ExecutePreprocessor.on_cell_error = _on_cell_error
