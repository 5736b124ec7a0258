"""kubectl's printers: server-side Tables through the tabwriter, YAML, JSON, name, JSONPath, custom-columns.

YAML and JSON go through Go maps in kubectl, so keys come out sorted alphabetically at every level
(which happens to put apiVersion, kind, metadata, spec, status in that order).
"""

from __future__ import annotations

import json

import yaml

from engine.kubectl import jsonpath
from engine.kubectl.base import ExitError
from engine.kubectl.tabwriter import TabWriter

# --- YAML (sigs.k8s.io/yaml over go-yaml v2) ----------------------------------------------------


class _GoYamlDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, data: str):
    style = None
    if "\n" in data:
        style = "|"
    elif data == "":
        style = '"'
    else:
        tag = dumper.resolve(yaml.ScalarNode, data, (True, False))
        if tag != "tag:yaml.org,2002:str":
            style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_float(dumper: yaml.SafeDumper, data: float):
    if data.is_integer() and abs(data) < 1e21:
        return dumper.represent_scalar("tag:yaml.org,2002:int", str(int(data)))
    return dumper.represent_scalar("tag:yaml.org,2002:float", repr(data))


_GoYamlDumper.add_representer(str, _represent_str)
_GoYamlDumper.add_representer(float, _represent_float)


def to_yaml(obj) -> str:
    return yaml.dump(obj, Dumper=_GoYamlDumper, default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=80)


def to_json(obj) -> str:
    """json.MarshalIndent(obj, "", "    ") plus a newline, as kubectl prints `-o json`."""
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def as_list(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# --- values as Go's fmt %v prints them -----------------------------------------------------------


def go_value(value) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    return str(value)


def cell_text(value) -> str:
    """A Table cell as printTable prints it (strings cut at the first newline, with `...`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        cut = value.find("\n")
        return value[:cut] + "..." if cut >= 0 else value
    return go_value(value)


def format_labels(labels: dict | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


# --- Tables --------------------------------------------------------------------------------------


class TablePrinter:
    """HumanReadablePrinter for server Tables: headers once per column set, as during a watch."""

    def __init__(self, writer: TabWriter, wide: bool = False, with_namespace: bool = False, kind_prefix: str = "",
                 show_labels: bool = False, no_headers: bool = False, label_columns: list[str] | None = None):
        self.w = writer
        self.wide = wide
        self.with_namespace = with_namespace
        self.kind_prefix = kind_prefix
        self.show_labels = show_labels
        self.no_headers = no_headers
        self.label_columns = label_columns or []
        self.last_columns: list[dict] | None = None
        self.printed_headers = False

    def print_table(self, table: dict) -> None:
        columns = table.get("columnDefinitions") or []
        rows = table.get("rows") or []
        no_headers = self.no_headers
        if self.printed_headers and (not columns or columns == self.last_columns):
            no_headers = True
        if not columns:
            columns = self.last_columns or []
        elif columns != self.last_columns:
            self.last_columns = columns
            self.printed_headers = False
        if rows:
            self.printed_headers = True
        visible = [i for i, c in enumerate(columns) if self.wide or not c.get("priority")]
        if not no_headers:
            if not rows:
                return
            header = [str(columns[i]["name"]).upper() for i in visible]
            if self.with_namespace:
                header.insert(0, "NAMESPACE")
            for label in self.label_columns:
                header.append(label.split("/")[-1].upper())
            if self.show_labels:
                header.append("LABELS")
            self.w.write("\t".join(header) + "\n")
        name_index = next((i for i, c in enumerate(columns) if c.get("format") == "name"), -1)
        for row in rows:
            cells = row.get("cells") or []
            meta = ((row.get("object") or {}).get("metadata")) or {}
            out = []
            if self.with_namespace:
                out.append(meta.get("namespace", ""))
            for i in visible:
                if i >= len(cells):
                    break
                text = cell_text(cells[i])
                if i == name_index and self.kind_prefix:
                    text = f"{self.kind_prefix}/{text}"
                out.append(text)
            labels = meta.get("labels") or {}
            for key in self.label_columns:
                out.append(labels.get(key, ""))
            if self.show_labels:
                out.append(format_labels(labels))
            self.w.write("\t".join(out) + "\n")


# --- -o name, jsonpath, custom-columns ----------------------------------------------------------


def name_of(info, obj: dict) -> str:
    group = f".{info.group}" if info.group else ""
    return f"{info.kind.lower()}{group}/{obj['metadata']['name']}"


class CustomColumns:
    def __init__(self, spec: str):
        self.columns: list[tuple[str, str]] = []
        if not spec:
            raise ExitError("custom-columns format specified but no custom columns given")
        for part in spec.split(","):
            header, sep, path = part.partition(":")
            if not sep:
                raise ExitError(f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>')
            self.columns.append((header, jsonpath.relaxed(path)))

    def render(self, objects: list[dict], writer: TabWriter, no_headers: bool = False) -> None:
        if not no_headers:
            writer.write("\t".join(h for h, _ in self.columns) + "\n")
        for obj in objects:
            cells = []
            for _, path in self.columns:
                values = jsonpath.find(path, obj)
                if not values:
                    cells.append("<none>")
                else:
                    cells.append(",".join(go_value(v) for v in values))
            writer.write("\t".join(cells) + "\n")


def parse_output(value: str) -> tuple[str, str]:
    """(format, argument): `wide`, `yaml`, `jsonpath={...}`, `custom-columns=...`."""
    fmt, sep, arg = value.partition("=")
    if fmt in ("jsonpath", "jsonpath-as-json", "custom-columns", "go-template", "template", "jsonpath-file",
               "custom-columns-file", "go-template-file", "templatefile") and not sep:
        raise ExitError(f"{fmt} template format specified but no template given")
    return fmt, arg


OUTPUT_FORMATS = ("json", "yaml", "name", "go-template", "go-template-file", "template", "templatefile", "jsonpath",
                  "jsonpath-as-json", "jsonpath-file", "custom-columns", "custom-columns-file", "wide")


def unknown_output(value: str, allowed: tuple[str, ...] = OUTPUT_FORMATS) -> ExitError:
    return ExitError(f'unable to match a printer suitable for the output format "{value}", allowed formats are: '
                     + ",".join(sorted(allowed)))
