"""A ready fake of the `AgentLink` port (harness.probe.link): answers from a script.

    link = FakeLink(Outcome(200, served_by="ratings-v1"))          # always the same answer
    link = FakeLink(lambda call: RESET if call.headers else ALLOWED)  # per request
    link = FakeLink(AgentUnreachable("gone"))                         # an exception is raised

Every request is recorded in `calls` (method, url, headers, timeout), in order; `sample`
answers each of its `n` requests through the same script, as the real link does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.model.outcome import Outcome


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: Mapping[str, str]
    timeout: float


Answer = Outcome | BaseException | Callable[[Call], "Outcome | BaseException"]


@dataclass
class FakeLink:
    answer: Answer
    calls: list[Call] = field(default_factory=list)
    closed: bool = False

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        call = Call(method, url, dict(headers), timeout)
        self.calls.append(call)
        result = self.answer(call) if callable(self.answer) else self.answer
        if isinstance(result, BaseException):
            raise result
        return result

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        return [self.probe(method, url, headers, timeout) for _ in range(n)]

    def close(self) -> None:
        self.closed = True
