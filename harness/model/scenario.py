"""The scenario language: `scenarios/<name>/scenario.yaml` plus the manifests it references.

A scenario says what the talk (or Istio's docs) claims, sets up the topology it needs
(namespaces, echo backends, client identities, waypoints) and lists ordered steps. Each step
applies or deletes manifests, then probes from a client identity and states the expected
outcome in the vocabulary of docs/architecture.md §4.

Models are strict: unknown keys are errors. `load_scenario` either returns a whole, valid
scenario or raises `SourceError` listing every problem as `file:line: field: message`.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

# RESERVED_FEATURES and feature_problem are re-exported: the pytest plugin reads the rule here.
from harness.model.features import RESERVED_FEATURES as RESERVED_FEATURES
from harness.model.features import Feature, feature_marker
from harness.model.features import feature_problem as feature_problem
from harness.model.files import SCENARIO_FILE, link_outside, path_kind
from harness.model.outcome import OUTCOMES, Kind, OutcomeName
from harness.model.source import (
    Document,
    Problem,
    SourceError,
    format_path,
    load_documents,
)
from harness.model.wording import pydantic_problems, yaml_type

Dataplane = Literal["ambient", "sidecar"]
NamespaceMode = Literal["ambient", "sidecar", "none"]

# RFC 1123 label (namespaces, ServiceAccounts) and RFC 1035 label (Services).
DnsLabel = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
ServiceName = Annotated[
    str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
Version = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Model(BaseModel):
    # defer_build: each validator is built on its model's first use, not at import (~40 ms):
    # the report readers and the pytest plugin import the model without validating.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, strict=True, defer_build=True
    )


class Namespace(Model):
    """A namespace the scenario owns; its name starts with the scenario's name."""

    name: DnsLabel
    # Enrollment: ambient label, sidecar injection label, or none (a plaintext, out-of-mesh client).
    dataplane: NamespaceMode | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Backend(Model):
    """An echo backend: Service `service` over one Deployment per version."""

    service: ServiceName
    versions: list[Version] = Field(default_factory=lambda: ["v1"], min_length=1)
    service_account: DnsLabel | None = None
    port: int = Field(default=9080, ge=1, le=65535)
    namespace: DnsLabel | None = None
    replicas: int = Field(default=1, ge=1, le=5)

    @field_validator("versions")
    @classmethod
    def _unique_versions(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("versions must be unique")
        return v

    @property
    def account(self) -> str:
        return self.service_account or f"bookinfo-{self.service}"


class Client(Model):
    """A client identity: an agent pod running as `service_account`."""

    name: DnsLabel
    service_account: DnsLabel | None = None
    namespace: DnsLabel | None = None

    @property
    def account(self) -> str:
        return self.service_account or f"bookinfo-{self.name}"


class Waypoint(Model):
    """A waypoint (Gateway of class istio-waypoint) and what is labelled to use it."""

    name: DnsLabel = "waypoint"
    namespace: DnsLabel | None = None
    for_: Literal["service", "workload", "all", "none"] = Field(default="service", alias="for")
    # Services labelled istio.io/use-waypoint=<name>; enroll_namespace labels the namespace.
    services: list[ServiceName] = Field(default_factory=list)
    enroll_namespace: bool = False


class Timing(Model):
    """How long an expectation may take to hold, and how long it must keep holding."""

    budget: float = Field(default=30.0, gt=0, le=600, description="seconds to reach the streak")
    streak: int = Field(default=3, ge=1, le=100, description="consecutive matches needed")
    hold: float = Field(default=0.0, ge=0, le=600, description="seconds it must then stay true")
    interval: float = Field(default=0.1, gt=0, le=10, description="seconds between polls")


class Expect(Model):
    """Expected outcome of a probe. At least one field; all given fields must hold."""

    outcome: OutcomeName | None = None
    status: int | None = Field(default=None, ge=100, le=599)
    served_by: str | None = None
    split: dict[str, float] | None = None
    tolerance: float = Field(default=5.0, gt=0, le=50, description="split tolerance, in points")
    l7: bool | None = None
    # Response headers that must be present with these values (e.g. set by a route filter).
    headers: dict[str, str] | None = None
    # Request headers the echo backend must have received (e.g. added by a waypoint).
    backend_saw: dict[str, str] | None = None
    # How many times the backend saw this request (x-request-id): retries made visible.
    attempts: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `expect: denied-l4` is short for `expect: {outcome: denied-l4}`.
        if isinstance(value, str):
            return {"outcome": value}
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Expect:
        fields = ("outcome", "status", "served_by", "split", "l7", "headers", "backend_saw")
        if all(getattr(self, f) is None for f in (*fields, "attempts")):
            raise ValueError(f"expect needs at least one of {', '.join(fields)}")
        if self.split is not None:
            if self.served_by is not None or self.outcome not in (None, Kind.ALLOWED):
                raise ValueError("split cannot be combined with served_by or a denial outcome")
            total = sum(self.split.values())
            if abs(total - 100.0) > 1e-6:
                raise ValueError(f"split weights must add up to 100, got {total:g}")
            if any(w < 0 for w in self.split.values()):
                raise ValueError("split weights must not be negative")
        if self.outcome is not None and self.outcome != Kind.ALLOWED and self.status is not None:
            raise ValueError(f"status cannot be combined with outcome {self.outcome}")
        return self

    def summary(self) -> dict[str, Any]:
        """The plan/report shape: only the fields that were set."""
        out = self.model_dump(exclude_none=True, exclude={"tolerance"})
        if self.split is not None:
            out["tolerance"] = self.tolerance
        return out


class Probe(Model):
    """One request from a client identity, and what must be observed."""

    from_: DnsLabel = Field(alias="from")
    method: HttpMethod = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    expect: Expect
    timing: Timing = Field(default_factory=Timing)
    # For a split: an expectation on the same request that only the new route satisfies.
    gate: Expect | None = None
    # Split sample cap; None: derived from the weights and tolerance (docs/statistics.md).
    samples: int | None = Field(default=None, ge=10, le=100_000)
    note: str | None = None
    # The mesh model (harness/predict) predicts otherwise, and this says why the scenario
    # expects what it does: lint then reports no contradiction; the live run decides.
    model_gap: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("must be an absolute http:// URL, e.g. http://ratings:9080/ratings/1")
        try:
            port = parts.port  # urlsplit only checks the port when asked
        except ValueError:
            port = 0
        if port == 0:
            raise ValueError(f"invalid port in {v!r}: expected 1-65535")
        return v

    @field_validator("headers")
    @classmethod
    def _header_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"invalid header name {name!r}")
        return v

    @model_validator(mode="after")
    def _gate_only_for_split(self) -> Probe:
        if self.gate is not None and self.expect.split is None:
            raise ValueError("gate is only meaningful with a split expectation")
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


class Step(Model):
    """Apply/delete manifests, then probe."""

    name: DnsLabel
    title: str = Field(min_length=1)
    narrative: str | None = None
    apply: list[str] = Field(default_factory=list)
    delete: list[str] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)

    @model_validator(mode="after")
    def _does_something(self) -> Step:
        if not (self.apply or self.delete or self.probes):
            raise ValueError("a step needs at least one of apply, delete, probes")
        return self


class Scenario(Model):
    """A whole scenario, as declared in scenario.yaml."""

    name: DnsLabel
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    references: list[str] = Field(default_factory=list)
    dataplane: Dataplane
    features: list[Feature] = Field(default_factory=list)
    # The scenario of the other data plane the talk sets beside this one (the closing matrix);
    # without it, `sidecar-X` pairs with `ambient-X` by name.
    compare_with: DnsLabel | None = None
    namespaces: list[Namespace] = Field(min_length=1)
    backends: list[Backend] = Field(default_factory=list)
    clients: list[Client] = Field(min_length=1)
    waypoints: list[Waypoint] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    # Set by the loader, never by YAML.
    directory: Path = Field(default=Path(), exclude=True)

    @property
    def namespace(self) -> str:
        """The default namespace: the first one declared."""
        return self.namespaces[0].name

    def namespace_of(self, explicit: str | None) -> str:
        return explicit or self.namespace

    def mode_of(self, namespace: str) -> NamespaceMode:
        for ns in self.namespaces:
            if ns.name == namespace:
                return ns.dataplane or self.dataplane
        return self.dataplane

    def client(self, name: str) -> Client:
        for c in self.clients:
            if c.name == name:
                return c
        raise KeyError(name)

    def manifest_path(self, relative: str) -> Path:
        return self.directory / relative

    @property
    def markers(self) -> list[str]:
        """pytest markers: the data plane and each feature."""
        return [self.dataplane, *(feature_marker(f) for f in self.features)]


def _cross_check(s: Scenario, doc: Document) -> list[Problem]:
    """Rules that span fields: names, references between sections, files on disk."""
    problems: list[Problem] = []
    ns_names = [n.name for n in s.namespaces]

    def at(loc: list[str | int], message: str) -> Problem:
        return doc.problem(loc, f"{format_path(tuple(loc))}: {message}")

    def dup(kind: str, names: list[str], section: str, attr: str) -> None:
        seen: set[str] = set()
        for i, n in enumerate(names):
            if n in seen:
                problems.append(at([section, i, attr], f"duplicate {kind} name {n!r}"))
            seen.add(n)

    dup("namespace", ns_names, "namespaces", "name")
    dup("client", [c.name for c in s.clients], "clients", "name")
    dup("backend", [b.service for b in s.backends], "backends", "service")
    dup("step", [st.name for st in s.steps], "steps", "name")
    dup("waypoint", [w.name for w in s.waypoints], "waypoints", "name")

    if s.compare_with == s.name:
        problems.append(
            at(["compare_with"], "names this scenario itself; name one of the other data plane")
        )
    if s.directory.name and s.name != s.directory.name:
        problems.append(
            at(["name"], f"name {s.name!r} must match its directory {s.directory.name!r}")
        )
    for i, name in enumerate(ns_names):
        if not name.startswith(s.name):
            problems.append(
                at(
                    ["namespaces", i, "name"],
                    f"namespace {name!r} must start with the scenario name {s.name!r} "
                    "(so scenarios can run in parallel on one cluster)",
                )
            )
    for section, items in (
        ("backends", s.backends),
        ("clients", s.clients),
        ("waypoints", s.waypoints),
    ):
        for i, item in enumerate(items):
            item_ns: str | None = getattr(item, "namespace", None)
            if item_ns is not None and item_ns not in ns_names:
                problems.append(
                    at(
                        [section, i, "namespace"],
                        f"unknown namespace {item_ns!r}; declared: {', '.join(ns_names)}",
                    )
                )
    services = {b.service for b in s.backends}
    for i, w in enumerate(s.waypoints):
        for j, svc in enumerate(w.services):
            if svc not in services:
                problems.append(
                    at(["waypoints", i, "services", j], f"unknown backend service {svc!r}")
                )
    clients = [c.name for c in s.clients]
    raw_steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
    for i, st in enumerate(s.steps):
        keys = list(raw_steps[i]) if isinstance(raw_steps, list) else []
        if st.apply and st.delete and keys.index("delete") < keys.index("apply"):
            # A step applies, then deletes; written the other way round it reads as the
            # opposite order, so the ambiguous form is refused rather than reordered.
            problems.append(
                at(
                    ["steps", i, "delete"],
                    "written before apply, but a step applies first and deletes after: "
                    "split it into two steps (one that deletes, then one that applies)",
                )
            )
        for key in ("apply", "delete"):
            for j, rel in enumerate(getattr(st, key)):
                p = s.directory / rel
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    problems.append(
                        at(["steps", i, key, j], f"{rel!r}: must be a path inside the scenario")
                    )
                elif (outside := link_outside(s.directory, p)) is not None:
                    problems.append(
                        at(
                            ["steps", i, key, j],
                            f"{rel!r}: must be a path inside the scenario (a link to {outside})",
                        )
                    )
                elif (kind := path_kind(p)) == "dir":
                    problems.append(
                        at(["steps", i, key, j], f"{rel!r}: is a directory; name a manifest file")
                    )
                elif kind == "invalid":
                    problems.append(at(["steps", i, key, j], f"{rel!r}: not a valid file name"))
                elif kind != "file":
                    near = _near_file(rel, p)
                    if "\\" in rel and not near:
                        near = " (write paths with '/', also on Windows)"
                    problems.append(at(["steps", i, key, j], f"{rel!r}: file not found{near}"))
        for j, pr in enumerate(st.probes):
            if pr.from_ not in clients:
                problems.append(
                    at(
                        ["steps", i, "probes", j, "from"],
                        f"unknown client {pr.from_!r}; declared clients: {', '.join(clients)}",
                    )
                )
    return problems


def _near_file(rel: str, missing: Path) -> str:
    """` (did you mean 'manifests/policy.yaml'?)` for a file beside the missing one."""
    try:
        siblings = [f.name for f in missing.parent.iterdir() if f.is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(missing.name, siblings, n=1, cutoff=0.8)
    return f" (did you mean {posixpath.join(posixpath.dirname(rel), close[0])!r}?)" if close else ""


def parse_scenario(doc: Document, directory: Path) -> Scenario:
    """Validate one parsed document as a scenario; raise SourceError with every problem."""
    if not isinstance(doc.data, dict):
        got = "a list" if isinstance(doc.data, list) else f"a {yaml_type(doc.data).split()[0]}"
        raise SourceError(
            [doc.problem([], f"a scenario must be a YAML mapping ({_FIELDS}), got {got}")]
        )
    if "directory" in doc.data:  # set by the loader; a YAML key of that name is not a field
        raise SourceError(
            [doc.problem(["directory"], f"directory: unknown field; valid fields: {_FIELDS}")]
        )
    try:
        scenario = Scenario.model_validate({**doc.data, "directory": directory})
    except ValidationError as err:
        raise SourceError(pydantic_problems(doc, err, Scenario, OUTCOMES)) from None
    problems = _cross_check(scenario, doc)
    if problems:
        raise SourceError(problems)
    return scenario


def scenario_file(path: Path) -> Path:
    """Accept a scenario directory or its scenario.yaml."""
    return path / SCENARIO_FILE if path_kind(path) == "dir" else path


_FIELDS = "name, title, description, dataplane, namespaces, clients, steps, ..."


def one_document(file: Path, docs: list[Document]) -> Document:
    """The scenario's document: a scenario file holds exactly one."""
    if not docs:
        raise SourceError(
            [Problem(file, 1, f"empty file: a scenario is a YAML mapping ({_FIELDS})")]
        )
    if len(docs) > 1:
        raise SourceError(
            [
                Problem(
                    file,
                    docs[1].start_line,
                    f"a second YAML document: a scenario file holds one, found {len(docs)}",
                )
            ]
        )
    return docs[0]


def load_scenario(path: Path) -> Scenario:
    """Load `scenarios/<name>` (or its scenario.yaml) completely, or raise SourceError."""
    file = scenario_file(path)
    return parse_scenario(one_document(file, load_documents(file)), file.parent)


def discover(paths: list[Path]) -> list[Path]:
    """Scenario files under the given files/directories, sorted, without duplicates."""
    found: set[Path] = set()
    for p in paths:
        kind = path_kind(p)
        if kind == "file":
            found.add(p)
        elif path_kind(p / SCENARIO_FILE) == "file":
            found.add(p / SCENARIO_FILE)
        elif kind == "dir":
            found.update(p.glob(f"*/{SCENARIO_FILE}"))
    return sorted(found)
