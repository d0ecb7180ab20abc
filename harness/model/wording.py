"""Pydantic's validation errors worded as a YAML author reads them: `file:line: field:
expected integer, got string '9080'`, unknown fields with the valid ones listed."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.model.source import Document, Problem, format_path


def pydantic_problems(
    doc: Document, err: ValidationError, root: type[BaseModel], outcomes: tuple[str, ...]
) -> list[Problem]:
    """Every error of `err`, located in `doc`; `root` is the model `doc` was validated as,
    `outcomes` the words an `expect` may be (for the message on a wrong `expect`)."""
    problems = []
    for e in err.errors():
        loc = [p for p in e["loc"] if isinstance(p, (str, int))]
        # Drop pydantic's union/validator tags such as 'function-after[...]'.
        loc = _yaml_loc(doc.data, [p for p in loc if not (isinstance(p, str) and "[" in p)])
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field missing"
        elif e["type"] == "literal_error":
            shown = "null (an empty value)" if e["input"] is None else repr(e["input"])
            msg = f"expected {e['ctx']['expected']}, got {shown}"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        elif e["type"] == "string_pattern_mismatch":
            msg = f"{e['input']!r} is not a valid name (lower-case letters, digits and '-')"
        else:
            msg = _plain_message(e["type"], e.get("ctx") or {}, e["input"]) or msg
        string_list = bool(loc) and str(loc[-1]) in _STRING_LISTS
        if e["type"] == "list_type" and isinstance(e["input"], str) and string_list:
            msg += f" (a list of one: [{e['input']}])"
        if e["type"] == "model_type" and loc and loc[-1] in ("expect", "gate"):
            msg = (
                f"expected an outcome ({', '.join(outcomes)}) or a mapping such as "
                f"{{outcome: allowed, l7: true}}, got {yaml_type(e['input'])}"
            )
        if e["type"] == "extra_forbidden" and loc:
            valid = _field_names(root, loc[:-1])
            msg += _did_you_mean(str(loc[-1]), valid)
            if valid:
                msg += f"; valid fields: {', '.join(valid)}"
        problems.append(doc.problem(loc, f"{format_path(tuple(loc))}: {msg}"))
    return problems


def _yaml_loc(data: Any, loc: list[str | int]) -> list[str | int]:
    """Pydantic's location with every mapping key as a name (`headers.1`, not `headers[1]`,
    for the YAML key 1): only the data says whether 1 is a list index or a key."""
    out: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(current, dict):
            out.append(str(part))
            current = current.get(part, current.get(str(part)))
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            out.append(part)
            current = current[part]
        else:
            out.append(part)
            current = None
    return out


# Fields that are lists of strings: `apply: manifests/policy.yaml` gets the fix in the message.
_STRING_LISTS = frozenset({"apply", "delete", "features", "versions", "references", "services"})

_EXPECTED_TYPES = {
    "int_type": "integer",
    "float_type": "number",
    "bool_type": "boolean",
    "string_type": "string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


def yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "null (an empty value)"
    for t, name in ((int, "integer"), (float, "number"), (str, "string"), (list, "a list")):
        if isinstance(value, t):
            return f"{name} {value!r}" if t in (int, float, str) else name
    return "a mapping" if isinstance(value, dict) else "null" if value is None else "a value"


def _plain_message(kind: str, ctx: dict[str, Any], value: Any) -> str | None:
    """`expected integer, got string '9080'` rather than pydantic's `Input should be ...`."""
    if kind in _EXPECTED_TYPES:
        quote = kind == "string_type" and isinstance(value, (bool, int, float))
        hint = " (quote it to make it a string)" if quote else ""
        return f"expected {_EXPECTED_TYPES[kind]}, got {yaml_type(value)}{hint}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        return f"must be {_BOUNDS[kind]} {bound}, got {value!r}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {len(str(value))}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s)"
    return None


def _field_names(root: type[BaseModel], loc: list[str | int]) -> list[str]:
    """YAML names of the fields of the model at `loc` (for did-you-mean hints)."""
    model: type[BaseModel] = root
    for part in loc:
        if isinstance(part, int):
            continue
        info = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        nested = [a for a in _type_args(info.annotation if info else None) if _is_model(a)]
        if not nested:
            return []
        model = nested[0]
    return [f.alias or n for n, f in model.model_fields.items() if n != "directory"]


def _type_args(annotation: Any) -> list[Any]:
    args = list(getattr(annotation, "__args__", ()) or ())
    return [annotation, *(x for a in args for x in _type_args(a))]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
