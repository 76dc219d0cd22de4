"""The model graph: which model reads which, build order, and `--select` / `--exclude`.

An edge runs from a model to a model whose relation it reads; every other relation it
reads is a source, except a seed's table (seeds/<schema>/<name>.csv, runner.build.seeds): the seed
is upstream of the models that read it, so a build loads it first. A model reading its own
relation (an incremental model looking at what it already holds) is not an edge.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter
from pathlib import PurePosixPath

from runner.errors import ConfigError, ProjectFileError
from runner.project.models import Model, relation_lines
from runner.project.seeds import Seed


class ModelGraph:
    """Every model of a project with the edges between them, checked for cycles, and the seeds they read."""

    def __init__(self, models: Iterable[Model], seeds: Iterable[Seed] = ()) -> None:
        self.models: dict[str, Model] = {}
        for model in models:
            if model.qualified in self.models:
                other = self.models[model.qualified]
                raise ProjectFileError(
                    f"{model.display}:1: builds {model.qualified}, which {other.display} builds too;"
                    " remove or rename one of them"
                )
            self.models[model.qualified] = model
        self._by_relation = {(model.schema, model.name): model.qualified for model in self.models.values()}
        self._models_by_relation = {relation: self.models[name] for relation, name in self._by_relation.items()}
        self.seeds: dict[tuple[str, str], Seed] = {}
        for seed in seeds:
            builder = self._by_relation.get((seed.schema, seed.name))
            if builder is not None:
                raise ProjectFileError(
                    f"{seed.display}:1: loads {seed.qualified}, which {self.models[builder].display} builds too;"
                    " remove or rename one of them"
                )
            self.seeds[(seed.schema, seed.name)] = seed
        self._upstream: dict[str, set[str]] = {name: set() for name in self.models}
        self._downstream: dict[str, set[str]] = {name: set() for name in self.models}
        for name, model in self.models.items():
            for relation in model.relations:
                builder = self._by_relation.get(relation)
                if builder is not None and builder != name:
                    self._upstream[name].add(builder)
                    self._downstream[builder].add(name)
        self._check_views_do_not_read_themselves()
        self.order: list[str] = self._topological_order()
        self._position = {name: index for index, name in enumerate(self.order)}

    # -- structure -------------------------------------------------------------------------

    def by_relation(self) -> dict[tuple[str, str], Model]:
        """Return each model by the relation it builds, (schema, name)."""
        return self._models_by_relation

    def model(self, name: str) -> Model:
        """Return the model called `name` ("schema.name", or "name" when only one schema has it)."""
        return self.models[self._resolve_name(name)]

    def direct_upstream(self, name: str) -> list[Model]:
        """Return the models `name` reads directly, in build order."""
        return self._ordered(self._upstream[self._resolve_name(name)])

    def direct_downstream(self, name: str) -> list[Model]:
        """Return the models that read `name` directly, in build order."""
        return self._ordered(self._downstream[self._resolve_name(name)])

    def upstream(self, name: str) -> list[Model]:
        """Return every model `name` depends on, directly or not, in build order."""
        return self._ordered(self._closure(self._resolve_name(name), self._upstream))

    def downstream(self, name: str) -> list[Model]:
        """Return every model that depends on `name`, directly or not, in build order."""
        return self._ordered(self._closure(self._resolve_name(name), self._downstream))

    def sources(self, name: str) -> list[tuple[str, str]]:
        """Return the relations `name` reads that no model builds (schema "" means found via search_path)."""
        model = self.models[self._resolve_name(name)]
        own = (model.schema, model.name)
        return sorted(
            relation for relation in model.relations
            if relation not in self._by_relation and relation not in self.seeds and relation != own
        )

    def seeds_read(self, models: Iterable[Model]) -> list[Seed]:
        """Return the seeds that `models` read, directly or through views (which hold no rows), sorted by table."""
        read: set[tuple[str, str]] = set()
        stack, seen = list(models), set()
        while stack:
            model = stack.pop()
            if model.qualified in seen:
                continue
            seen.add(model.qualified)
            for relation in model.relations:
                if relation in self.seeds:
                    read.add(relation)
                builder = self._by_relation.get(relation)
                if builder is not None and self.models[builder].kind == "view":
                    stack.append(self.models[builder])
        return [self.seeds[relation] for relation in sorted(read)]

    def in_order(self) -> list[Model]:
        """Return every model in build order: each after everything it reads."""
        return [self.models[name] for name in self.order]

    # -- selection -------------------------------------------------------------------------

    def select(self, selectors: Iterable[str] = (), excludes: Iterable[str] = ()) -> list[Model]:
        """Return the models matched by `selectors` (all when none) minus `excludes`, in build order.

        Each selector is `name`, `schema.name`, `tag:x` or `path:dir`, optionally with `+` before
        (and everything upstream) and/or after (and everything downstream). Several selectors
        in one string may be separated by spaces; the result is their union.
        """
        chosen_selectors = _split(selectors)
        chosen = set(self.order) if not chosen_selectors else set()
        for selector in chosen_selectors:
            chosen |= self._match(selector, "--select")
        for selector in _split(excludes):
            chosen -= self._match(selector, "--exclude")
        return self._ordered(chosen)

    def _match(self, selector: str, option: str) -> set[str]:
        body = selector
        with_upstream = body.startswith("+")
        with_downstream = body.endswith("+") and len(body) > 1
        body = body.removeprefix("+").removesuffix("+") if len(body) > 1 else body
        if not body or body == "+":
            raise ConfigError(f"{option} {selector!r}: empty selector; name a model, tag:x or path:dir")
        if body.startswith("tag:"):
            tag = body[4:]
            matched = {name for name, model in self.models.items() if tag in model.tags}
            if not matched:
                known = sorted({tag for model in self.models.values() for tag in model.tags})
                raise ConfigError(
                    f"{option} {selector!r}: no model has tag {tag!r}" + _suggest(tag, known, "tag:")
                )
        elif body.startswith("path:"):
            matched = self._match_path(body[5:])
            if not matched:
                directories = sorted({str(PurePosixPath(model.display).parent) for model in self.models.values()})
                raise ConfigError(
                    f"{option} {selector!r}: no model file under {body[5:]!r} (paths are relative to the project root)"
                    + _suggest(body[5:], directories, "path:", cutoff=0.8)
                )
        else:
            matched = {self._resolve_name(body, f"{option} {selector!r}: ")}
        result = set(matched)
        for name in matched:
            if with_upstream:
                result |= self._closure(name, self._upstream)
            if with_downstream:
                result |= self._closure(name, self._downstream)
        return result

    def _match_path(self, prefix: str) -> set[str]:
        wanted = PurePosixPath(prefix.strip().replace("\\", "/").removeprefix("./")).parts
        wanted = tuple(part for part in wanted if part not in ("", "."))
        if not wanted:
            return set(self.models)
        return {
            name for name, model in self.models.items() if PurePosixPath(model.display).parts[: len(wanted)] == wanted
        }

    def _resolve_name(self, name: str, context: str = "") -> str:
        if name in self.models:
            return name
        matches = [qualified for qualified, model in self.models.items() if model.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigError(
                f"{context}{name!r} is ambiguous: {', '.join(sorted(matches))}; write it as schema.name"
            )
        candidates = sorted(self.models) if "." in name else sorted({model.name for model in self.models.values()})
        raise ConfigError(f"{context}no model named {name!r}" + _suggest(name, candidates, ""))

    # -- helpers ---------------------------------------------------------------------------

    def _closure(self, start: str, edges: dict[str, set[str]]) -> set[str]:
        reached: set[str] = set()
        stack = list(edges[start])
        while stack:
            name = stack.pop()
            if name not in reached:
                reached.add(name)
                stack.extend(edges[name])
        return reached

    def _ordered(self, names: Iterable[str]) -> list[Model]:
        return [self.models[name] for name in sorted(names, key=self._position.__getitem__)]

    def _topological_order(self) -> list[str]:
        # Always the smallest name among the ready ones, so the order is the same on every machine.
        sorter = TopologicalSorter(self._upstream)
        try:
            sorter.prepare()
        except CycleError:
            # graphlib names one cycle; the message names the one reached from the smallest
            # stuck model, whatever the order in which graphlib happened to find them.
            ordered = set(_drain(sorter))
            raise self._cycle_error(set(self.models) - ordered) from None
        return _drain(sorter)

    def _cycle_error(self, stuck: set[str]) -> ProjectFileError:
        # Walk upstream edges inside the stuck set until a model repeats: that loop is a cycle.
        start = min(stuck)
        path = [start]
        seen = {start: 0}
        while True:
            following = min(name for name in self._upstream[path[-1]] if name in stuck)
            if following in seen:
                loop = path[seen[following]:] + [following]
                break
            seen[following] = len(path)
            path.append(following)
        steps = []
        for reader, read in zip(loop, loop[1:], strict=False):
            model, target = self.models[reader], self.models[read]
            line = relation_lines(model).get((target.schema, target.name), model.sql_line)
            steps.append((model.display, line, read))
        where = "; ".join(f"{display}:{line} reads {read}" for display, line, read in steps[1:])
        display, line, _ = steps[0]
        return ProjectFileError(
            f"{display}:{line}: cycle: {' -> '.join(loop)}; break it" + (f" ({where})" if where else "")
        )

    def _check_views_do_not_read_themselves(self) -> None:
        for model in self.models.values():
            own = (model.schema, model.name)
            if model.kind == "view" and own in model.relations:
                line = relation_lines(model).get(own, model.sql_line)
                raise ProjectFileError(
                    f"{model.display}:{line}: view {model.qualified} reads itself; a view cannot,"
                    " make it kind=incremental or read another relation"
                )


def _drain(sorter: TopologicalSorter[str]) -> list[str]:
    """Return every node `sorter` can give, smallest ready name first (all of them when there is no cycle)."""
    ready = list(sorter.get_ready())
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        sorter.done(name)
        for following in sorter.get_ready():
            heapq.heappush(ready, following)
    return order


def _split(selectors: Iterable[str]) -> list[str]:
    if isinstance(selectors, str):
        selectors = [selectors]
    return [part for selector in selectors for part in selector.split()]


def _suggest(word: str, candidates: list[str], prefix: str, cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=cutoff)
    if not close:
        return "; run weir ls to see the models"
    return "; did you mean " + " or ".join(f"{prefix}{match}" for match in close) + "?"
