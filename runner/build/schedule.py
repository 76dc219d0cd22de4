"""Running a build's models in dependency order, at most `threads` at once (stdlib graphlib).

A model starts as soon as every selected model it reads, directly or through unselected
ones, is done; among the ready ones, the first in build order goes first. A model whose
upstream failed is not run: it is reported upstream-failed. Ctrl-C cancels the queries at work.
"""

from __future__ import annotations

import heapq
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from graphlib import TopologicalSorter

from runner.build.build_one import build_one
from runner.build.context import BuildContext
from runner.build.report import FAILED, BuildEvent, ModelResult
from runner.project.models import Model
from runner.state import builds


def run_models(ctx: BuildContext, selected: list[Model]) -> list[ModelResult]:
    """Build `selected` (given in build order) on the run's workers; return their results in that order."""
    return _Schedule(ctx, selected).run()


class _Schedule:
    """The order of one run's models: what waits for what, what is ready, what has ended how."""

    def __init__(self, ctx: BuildContext, selected: list[Model]) -> None:
        self.ctx, self.selected = ctx, selected
        self.by_name = {model.qualified: model for model in selected}
        self.position = {model.qualified: index for index, model in enumerate(selected)}
        # A model waits for every selected model upstream of it, also through unselected ones.
        self.waits_for = {
            name: {up.qualified for up in ctx.graph.upstream(name) if up.qualified in self.by_name}
            for name in self.by_name
        }
        self.sorter: TopologicalSorter[str] = TopologicalSorter(self.waits_for)
        self.sorter.prepare()  # no cycle: the project's graph has none
        self.results: dict[str, ModelResult] = {}
        self.ready: list[tuple[int, str]] = []  # a heap: the first in build order goes first

    def run(self) -> list[ModelResult]:
        ctx = self.ctx
        running: dict[Future[ModelResult], str] = {}
        executor = ThreadPoolExecutor(max_workers=ctx.options.threads, thread_name_prefix="weir-build")
        try:
            while self.sorter.is_active():
                self._take_ready()
                while self.ready and len(running) < ctx.options.threads:
                    _, name = heapq.heappop(self.ready)
                    ctx.emit(BuildEvent("started", name))
                    running[executor.submit(build_one, ctx, self.by_name[name])] = name
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    result = future.result()
                    self.results[name] = result
                    ctx.emit(BuildEvent("finished", name, result.error or result.note, result))
                    self.sorter.done(name)
        except BaseException:
            ctx.workers.cancel_all()
            raise
        finally:
            executor.shutdown(wait=True)
            ctx.workers.close_all()
        return [self.results[model.qualified] for model in self.selected]

    def _take_ready(self) -> None:
        """Queue the models whose upstream is done; settle at once those whose upstream failed."""
        newly = self.sorter.get_ready()
        while newly:
            for name in newly:
                failed = sorted(up for up in self.waits_for[name] if self.results[up].status in FAILED)
                if failed:
                    self.results[name] = self._upstream_failed(self.by_name[name], failed)
                    self.sorter.done(name)
                else:
                    heapq.heappush(self.ready, (self.position[name], name))
            newly = self.sorter.get_ready()  # what the models just settled let through

    def _upstream_failed(self, model: Model, failed: list[str]) -> ModelResult:
        result = ModelResult(
            model.qualified, model.kind, "upstream-failed", note=f"not run: {', '.join(failed)} failed"
        )
        builds.record_result(self.ctx.conn, self.ctx.run_id, result)
        self.ctx.emit(BuildEvent("finished", model.qualified, result.note, result))
        return result
