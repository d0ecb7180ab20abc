"""The pinned CRD bundles (Istio, Gateway API): finding, loading and caching their schemas.

The bundles are the pinned upstream CRD files in a directory (`AMBIENT_HARNESS_CRD_DIR`,
default `~/.cache/ambient-harness/crds`, filled by `ambient-harness schemas fetch`). Parsing
~2 MB of CRD YAML costs a noticeable fraction of a second, so the parsed index (schemas without
their prose) is cached as JSON under the user's cache directory, keyed by the sha256 of the
source files; a read-only or missing cache location only costs the re-parse (~0.1 s from
libyaml's events versus ~10 ms from the JSON cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.errors import HarnessError
from harness.host import paths, versions
from harness.model.yaml_loaders import load_all_plain

Schema = Mapping[str, Any]
Scope = Literal["Namespaced", "Cluster"]

INDEX_FORMAT = 2  # 2: keeps `default` and `x-kubernetes-validations` (CEL rules, defaulting)
# Schema keywords lint never reads: dropped from the cached index to keep it small.
_UNUSED_KEYWORDS = frozenset({"description", "example"})


def default_crd_dir() -> Path:
    """Where the CRD files live: $AMBIENT_HARNESS_CRD_DIR or the user's cache."""
    return paths.crd_dir()


def default_index_cache_dir() -> Path:
    """Parsed-index cache under the cache root, never the CRD dir itself (may be read-only)."""
    return paths.cache_root() / "crd-index"


# --------------------------------------------------------------------------------------------
# The index: (group, kind) -> CRD, each with its versions' schemas.


@dataclass(frozen=True)
class CrdVersion:
    name: str
    served: bool
    deprecated: bool
    warning: str | None
    schema: Schema


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    scope: Scope
    versions: tuple[CrdVersion, ...]

    def version(self, name: str) -> CrdVersion | None:
        return next((v for v in self.versions if v.name == name), None)

    @property
    def served(self) -> list[str]:
        return sort_versions(v.name for v in self.versions if v.served)


@dataclass(frozen=True)
class SchemaIndex:
    """Every CRD of the pinned bundles in `directory`; empty only with `--no-schemas`."""

    directory: Path
    crds: Mapping[tuple[str, str], Crd]
    sources: tuple[Path, ...]

    @property
    def empty(self) -> bool:
        return not self.crds

    @property
    def groups(self) -> set[str]:
        return {g for g, _ in self.crds}

    def kinds(self, group: str) -> list[str]:
        return sorted(k for g, k in self.crds if g == group)

    def schema(self, group: str, version: str, kind: str) -> Schema | None:
        """openAPIV3Schema of (group, version, kind), if that CRD version exists."""
        crd = self.crds.get((group, kind))
        v = crd.version(version) if crd else None
        return v.schema if v else None


FIX = (
    "run: ambient-harness schemas fetch, or set AMBIENT_HARNESS_CRD_DIR to a directory "
    "holding the pinned bundles"
)


class CrdSchemaError(HarnessError):
    """The pinned CRD schemas cannot be used: lint refuses to go on without them quietly
    (`--no-schemas` skips them on purpose)."""


class CrdSchemasMissing(CrdSchemaError):
    """A pinned bundle is not in the CRD directory."""

    def __init__(self, directory: Path, missing: Sequence[str]) -> None:
        self.directory, self.missing = directory, list(missing)
        names = ", ".join(self.missing)
        super().__init__(f"no CRD schemas: {names} not found in {directory} ({FIX})")


class CrdFileError(CrdSchemaError):
    """A bundle is damaged (its sha256 is not the pin) or not valid YAML; file and line."""

    def __init__(self, file: Path, line: int, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        super().__init__(f"{file}:{line}: {reason}")


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def sort_versions(names: Iterable[str]) -> list[str]:
    """Kubernetes version priority: GA before beta before alpha, newer first."""

    def key(name: str) -> tuple[int, int, int, str]:
        m = _VERSION_RE.match(name)
        if not m:
            return (3, 0, 0, name)
        stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
        return (stage, -int(m.group(1)), -int(m.group(3) or 0), name)

    return sorted(names, key=key)


def _strip(schema: Any) -> Any:
    """A copy of a schema node without the keywords the validator never reads."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k in _UNUSED_KEYWORDS:
            continue
        if k == "properties" and isinstance(v, dict):
            out[k] = {name: _strip(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = _strip(v)
        elif k in ("oneOf", "anyOf", "allOf") and isinstance(v, list):
            out[k] = [_strip(sub) for sub in v]
        else:
            out[k] = v
    return out


def _crd_entries(doc: Any) -> list[dict[str, Any]]:
    """The JSON-able form of one CRD document (empty for any other document)."""
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        return []
    spec = doc.get("spec") or {}
    versions = []
    for v in spec.get("versions") or []:
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        versions.append(
            {
                "name": v["name"],
                "served": bool(v.get("served", False)),
                "deprecated": bool(v.get("deprecated", False)),
                "warning": v.get("deprecationWarning"),
                "schema": _strip(schema),
            }
        )
    return [
        {
            "group": spec["group"],
            "kind": spec["names"]["kind"],
            "scope": spec.get("scope", "Namespaced"),
            "versions": versions,
        }
    ]


def _parse_crd_file(file: Path) -> list[dict[str, Any]]:
    try:
        docs = load_all_plain(file.read_bytes())  # libyaml's events: no positions needed
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else 1
        raise CrdFileError(file, line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    entries: list[dict[str, Any]] = []
    for doc in docs:
        try:
            entries.extend(_crd_entries(doc))
        except (KeyError, TypeError, AttributeError) as exc:
            raise CrdFileError(file, 1, f"malformed CustomResourceDefinition: {exc}") from exc
    return entries


def _build(
    directory: Path, sources: tuple[Path, ...], entries: list[dict[str, Any]]
) -> SchemaIndex:
    crds: dict[tuple[str, str], Crd] = {}
    for e in entries:
        versions = tuple(
            CrdVersion(v["name"], v["served"], v["deprecated"], v["warning"], v["schema"])
            for v in e["versions"]
        )
        scope: Scope = "Cluster" if e["scope"] == "Cluster" else "Namespaced"
        crds[(e["group"], e["kind"])] = Crd(e["group"], e["kind"], scope, versions)
    return SchemaIndex(directory, crds, sources)


# sha256 per (file, size, mtime, inode): lint_or_raise runs once per pytest item, and hashing
# 2 MB of bundles each time would cost more than linting the scenario.
_DIGESTS: dict[tuple[Path, int, int, int], str] = {}


def _digest(file: Path) -> str:
    st = file.stat()
    key = (file.resolve(), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _DIGESTS.get(key)
    if digest is None:
        digest = _DIGESTS[key] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digest


def _verified_digests(
    directory: Path, bundles: Sequence[versions.CrdBundle]
) -> tuple[tuple[Path, ...], str]:
    """The bundles' files and the index key (their sha256s); each file must match its pin."""
    missing = [b.filename for b in bundles if not (directory / b.filename).is_file()]
    if missing:
        raise CrdSchemasMissing(directory, missing)
    h = hashlib.sha256(f"format={INDEX_FORMAT}\n".encode())
    sources = []
    for b in bundles:
        file = directory / b.filename
        try:
            digest = _digest(file)
        except OSError as exc:
            raise CrdFileError(file, 1, f"cannot read CRD bundle: {exc} ({FIX})") from exc
        pin = b.artifact.sha256
        if pin is not None and digest != pin:
            raise CrdFileError(
                file,
                1,
                f"damaged CRD bundle: sha256 {digest} is not the pinned {pin} "
                f"(truncated, edited or another version; {FIX})",
            )
        h.update(b.filename.encode() + b"\0" + digest.encode() + b"\n")
        sources.append(file)
    return tuple(sources), h.hexdigest()


def _read_cache(cache_file: Path) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return None
    entries = data.get("crds")
    return entries if isinstance(entries, list) else None


def _write_cache(cache_file: Path, entries: list[dict[str, Any]]) -> None:
    """Atomic write; any failure (read-only home, full disk) just means no cache."""
    tmp: Path | None = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(dir=cache_file.parent, prefix=".crd-index-", suffix=".tmp")
        tmp = Path(name)
        # dumps, not dump: json.dump writes through the pure-Python encoder (~4x slower).
        text = json.dumps({"format": INDEX_FORMAT, "crds": entries}, separators=(",", ":"))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        tmp.replace(cache_file)
        for old in cache_file.parent.glob("crd-index-*.json"):
            if old != cache_file:
                old.unlink(missing_ok=True)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


_MEMO: dict[tuple[Path, str], SchemaIndex] = {}


def load_index(
    directory: Path | None = None,
    cache_dir: Path | None = None,
    bundles: Sequence[versions.CrdBundle] = versions.CRD_BUNDLES,
) -> SchemaIndex:
    """The index of the pinned CRD bundles in `directory` (default: `default_crd_dir()`).

    Raises CrdSchemasMissing when a bundle is not there, CrdFileError when one does not match
    its pinned sha256 (a broken download must not silently disable validation).
    """
    directory = directory or default_crd_dir()
    sources, key = _verified_digests(directory, bundles)
    memo = _MEMO.get((directory.resolve(), key))
    if memo is not None:
        return memo
    cache_file = (cache_dir or default_index_cache_dir()) / f"crd-index-{key[:32]}.json"
    entries = _read_cache(cache_file)
    if entries is None:
        entries = [e for f in sources for e in _parse_crd_file(f)]
        _write_cache(cache_file, entries)
    index = _build(directory, sources, entries)
    _MEMO[(directory.resolve(), key)] = index
    return index


def no_index(directory: Path | None = None) -> SchemaIndex:
    """An index without CRDs: `--no-schemas` (CRD kinds are then not validated)."""
    return SchemaIndex(directory or default_crd_dir(), {}, ())
