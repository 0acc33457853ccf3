"""The workflow graph of the registered runners, validated when definitions load."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from blast_pipeline.runners.base import SystemTaskRunner, TransientTaskRunner
from blast_pipeline.statuses import NOT_PROCESSED, PROCESSED, STATUSES

_ASSET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RegistrationError(ValueError):
    """A registered runner is inconsistent; the message names the runner."""


@dataclass(frozen=True)
class WorkflowGraph:
    """Transient runners in dependency order, with their direct and transitive prerequisites."""

    runners: tuple[TransientTaskRunner, ...]
    system_runners: tuple[SystemTaskRunner, ...]

    @classmethod
    def from_runners(cls, runners: Sequence[object]) -> WorkflowGraph:
        transient, system = [], []
        for runner in runners:
            if isinstance(runner, TransientTaskRunner):
                transient.append(runner)
            elif isinstance(runner, SystemTaskRunner):
                system.append(runner)
            else:
                raise RegistrationError(
                    f"{runner!r} is neither a TransientTaskRunner nor a SystemTaskRunner"
                )
        _check_names([*transient, *system])
        _check_prerequisites(transient)
        _check_statuses(transient)
        ordered = _topological_order(transient)
        return cls(runners=tuple(ordered), system_runners=tuple(system))

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(r.task_name for r in self.runners)

    def runner(self, task_name: str) -> TransientTaskRunner:
        for r in self.runners:
            if r.task_name == task_name:
                return r
        raise KeyError(
            f"no transient task named {task_name!r}; known: {', '.join(self.task_names)}"
        )

    def direct_upstream(self, task_name: str) -> tuple[str, ...]:
        """Prerequisites that require "processed" (the asset dependencies)."""
        prereqs = self.runner(task_name).prerequisites()
        return tuple(t for t, s in prereqs.items() if s == PROCESSED)

    @cached_property
    def upstream(self) -> dict[str, frozenset[str]]:
        """Task -> every task it transitively depends on."""
        closure: dict[str, frozenset[str]] = {}
        for r in self.runners:  # dependency order: parents are done first
            direct = set(r.prerequisites())
            full = set(direct)
            for parent in direct:
                full |= closure[parent]
            closure[r.task_name] = frozenset(full)
        return closure

    def downstream_of(self, task_name: str) -> tuple[str, ...]:
        """``task_name`` and every task that depends on it, in dependency order."""
        self.runner(task_name)
        return tuple(t for t in self.task_names if t == task_name or task_name in self.upstream[t])


def _check_names(runners: Sequence[TransientTaskRunner | SystemTaskRunner]) -> None:
    seen: dict[str, object] = {}
    assets: dict[str, object] = {}
    for r in runners:
        try:
            name = r.task_name
        except NotImplementedError as exc:
            raise RegistrationError(str(exc)) from None
        if not isinstance(name, str) or not name.strip():
            raise RegistrationError(f"{type(r).__name__} has an empty task_name")
        if name in seen:
            raise RegistrationError(
                f"{type(r).__name__} and {type(seen[name]).__name__} both register task {name!r}"
            )
        seen[name] = r
        if not _ASSET_NAME.match(r.asset_name):
            raise RegistrationError(
                f"{type(r).__name__}: task name {name!r} gives the invalid asset name "
                f"{r.asset_name!r}; start it with a letter"
            )
        if r.asset_name in assets:
            raise RegistrationError(
                f"{type(r).__name__}: task name {name!r} maps to asset {r.asset_name!r}, "
                f"already used by {type(assets[r.asset_name]).__name__}"
            )
        assets[r.asset_name] = r


def _check_prerequisites(runners: Sequence[TransientTaskRunner]) -> None:
    names = {r.task_name for r in runners}
    for r in runners:
        prereqs = r._prerequisites()
        if not isinstance(prereqs, dict):
            raise RegistrationError(
                f"{type(r).__name__} ({r.task_name!r}): _prerequisites() must return a dict of "
                f"task name -> status message, got {type(prereqs).__name__}"
            )
        own = prereqs.get(r.task_name)
        if own is not None and own != NOT_PROCESSED:
            raise RegistrationError(
                f"{type(r).__name__} ({r.task_name!r}): its own prerequisite entry may only be "
                f"'not processed', got {own!r}"
            )
        for task in r.prerequisites():
            if task not in names:
                raise RegistrationError(
                    f"{type(r).__name__} ({r.task_name!r}) has unknown prerequisite {task!r}; "
                    f"registered transient tasks: {', '.join(sorted(names))}"
                )


def _check_statuses(runners: Sequence[TransientTaskRunner]) -> None:
    for r in runners:
        for task, status in r._prerequisites().items():
            if status not in STATUSES:
                raise RegistrationError(
                    f"{type(r).__name__} ({r.task_name!r}): prerequisite {task!r} requires "
                    f"unknown status {status!r}"
                )
        failed = r.failed_status_message()
        if failed not in STATUSES:
            raise RegistrationError(
                f"{type(r).__name__} ({r.task_name!r}): unknown failed status message {failed!r}"
            )


def _topological_order(runners: Sequence[TransientTaskRunner]) -> list[TransientTaskRunner]:
    """Kahn's algorithm, keeping registration order among independent tasks."""
    by_name = {r.task_name: r for r in runners}
    remaining = {r.task_name: set(r.prerequisites()) for r in runners}
    ordered: list[TransientTaskRunner] = []
    while remaining:
        ready = [n for n in by_name if n in remaining and not remaining[n]]
        if not ready:
            cycle = ", ".join(f"{type(by_name[n]).__name__} ({n!r})" for n in remaining)
            raise RegistrationError(f"prerequisite cycle among: {cycle}")
        for name in ready:
            ordered.append(by_name[name])
            del remaining[name]
            for deps in remaining.values():
                deps.discard(name)
    return ordered
