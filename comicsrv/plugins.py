"""Loading plugins and calling their hooks so that one broken plugin never
breaks the others."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Iterable

import pluggy

from . import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "comicsrv.plugins"

# The hooks that return integration classes, by the kind of integration.
INTEGRATION_HOOKS = {
    "metadata": "comicsrv_metadata_providers",
    "indexer": "comicsrv_indexers",
    "download_client": "comicsrv_download_clients",
    "notifier": "comicsrv_notifiers",
    "sync": "comicsrv_sync_targets",
}


@dataclass
class PluginFailure:
    plugin: str
    stage: str  # load | <hook name>
    error: str


@dataclass
class PluginRegistry:
    manager: pluggy.PluginManager = field(
        default_factory=lambda: pluggy.PluginManager(hookspecs.PROJECT)
    )
    failures: list[PluginFailure] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.manager.add_hookspecs(hookspecs.Hooks)

    def load_entry_points(self, eps: Iterable[EntryPoint] | None = None) -> None:
        """Import and register every plugin of the entry-point group.

        pluggy's own loader stops at the first plugin that fails to import;
        this one records the failure and goes on.
        """
        if eps is None:
            eps = entry_points(group=ENTRY_POINT_GROUP)
        for ep in eps:
            if self.manager.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.manager.register(plugin, name=ep.name)
            except Exception as exc:
                log.exception("plugin %s (%s) failed to load; skipped", ep.name, ep.value)
                self.failures.append(PluginFailure(ep.name, "load", f"{type(exc).__name__}: {exc}"))
                continue
            self.sources[ep.name] = ep.value
            dist = getattr(ep, "dist", None)
            if dist is not None:
                self.sources[ep.name] = f"{ep.value} ({dist.name} {dist.version})"

    def register(self, plugin: Any, name: str) -> None:
        self.manager.register(plugin, name=name)
        self.sources[name] = getattr(plugin, "__name__", repr(plugin))

    def call(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on each plugin separately: ``[(plugin name, result)]``.

        A plugin whose implementation raises is logged, recorded in
        ``failures`` and left out of the results.
        """
        results = []
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                log.exception("plugin %s failed in %s; skipped", impl.plugin_name, hook)
                self.failures.append(
                    PluginFailure(impl.plugin_name, hook, f"{type(exc).__name__}: {exc}")
                )
                continue
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def integrations(self, category: str) -> dict[str, type[hookspecs.Integration]]:
        """Implementation classes of one category, by their ``kind``."""
        found: dict[str, type[hookspecs.Integration]] = {}
        for plugin, classes in self.call(INTEGRATION_HOOKS[category]):
            for cls in classes:
                if cls.kind in found:
                    log.warning("plugin %s: %s kind %r already provided; ignored",
                                plugin, category, cls.kind)
                    continue
                found[cls.kind] = cls
        return found

    def describe(self) -> list[dict[str, Any]]:
        """What is loaded, for ``GET /api/v1/plugins``."""
        provided: dict[str, dict[str, list[str]]] = {}
        for category, hook in INTEGRATION_HOOKS.items():
            for plugin, classes in self.call(hook):
                provided.setdefault(plugin, {}).setdefault(category, []).extend(
                    cls.kind for cls in classes
                )
        rows = []
        for name, plugin in self.manager.list_name_plugin():
            if name is None:
                continue
            hooks = sorted(h.name for h in self.manager.get_hookcallers(plugin) or [])
            rows.append({
                "name": name,
                "source": self.sources.get(name, ""),
                "hooks": hooks,
                "provides": provided.get(name, {}),
            })
        return sorted(rows, key=lambda r: r["name"])
