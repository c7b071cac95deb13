"""Prometheus metrics of the Recommender (created once per worker process, after BentoML has set
PROMETHEUS_MULTIPROC_DIR), and a no-op stand-in for the CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field


class _NoMetric:
    def labels(self, **_):
        return self

    def inc(self, amount: float = 1.0) -> None:
        pass

    def set(self, value: float) -> None:
        pass


@dataclass(frozen=True)
class Metrics:
    fallbacks: object
    cache_hits: object
    cache_misses: object
    reloads: object
    model: object  # tailor_model_info{model_version, model_tag}: 1 while a worker serves it
    profile_reads: object  # tailor_profile_reads_total{outcome}: found, none, failed
    stream: object | None = None  # StreamGauges, where the service has an event stream
    # tailor_exposures_total{outcome}: published, dropped (serving/stream/exposures.py)
    exposures: object = field(default_factory=_NoMetric)

    @classmethod
    def disabled(cls) -> Metrics:
        return cls(*[_NoMetric()] * 6)

    def serving(self, version: str, tag: str, previous: tuple[str, str] | None) -> None:
        """The info metric of the model now served (BentoML's own service_version label says
        "not available" outside a built Bento, and never names the model)."""
        if previous is not None and previous != (version, tag):
            self.model.labels(model_version=previous[0], model_tag=previous[1]).set(0)
        self.model.labels(model_version=version, model_tag=tag).set(1)

    @classmethod
    def prometheus(cls) -> Metrics:
        """Created once per process, after BentoML has set PROMETHEUS_MULTIPROC_DIR."""
        global _METRICS
        if _METRICS is None:
            from prometheus_client import Counter, Gauge

            _METRICS = cls(
                fallbacks=Counter("tailor_fallbacks", "Non-personalized answers, by reason",
                                  ["endpoint", "reason"]),
                cache_hits=Counter("tailor_cache_hits", "Answers served from the cache",
                                   ["endpoint"]),
                cache_misses=Counter("tailor_cache_misses", "Answers computed", ["endpoint"]),
                reloads=Counter("tailor_model_reloads", "Model reloads, by outcome", ["outcome"]),
                # livemax: across live workers, 1 for every version some worker still serves
                model=Gauge("tailor_model_info", "The model a worker serves (1) or served (0)",
                            ["model_version", "model_tag"], multiprocess_mode="livemax"),
                profile_reads=Counter("tailor_profile_reads", "Online profile reads of answers "
                                      "(found, none, failed: answered from the model alone)",
                                      ["outcome"]),
                stream=StreamGauges(Gauge),
                exposures=Counter("tailor_exposures", "Exposures of experiment answers sent to "
                                  "the event stream (published) or given up (dropped)",
                                  ["outcome"]),
            )
        return _METRICS


_METRICS: Metrics | None = None


class StreamGauges:
    """The event stream as Redis reports it, refreshed by each worker every few seconds
    (`observe`); across workers the most recent value counts."""

    def __init__(self, gauge) -> None:
        mode = {"multiprocess_mode": "mostrecent"}
        self.length = gauge("tailor_stream_length", "Entries in the event stream", **mode)
        self.lag = gauge("tailor_stream_lag_seconds", "Age of the oldest entry a consumer group "
                         "has not acknowledged", ["group"], **mode)
        self.pending = gauge("tailor_stream_pending", "Entries delivered to a group member and "
                             "not acknowledged yet", ["group"], **mode)
        self.undelivered = gauge("tailor_stream_undelivered", "Entries not delivered to any "
                                 "member of a group yet", ["group"], **mode)
        self.dead = gauge("tailor_dead_letters_total", "Entries moved to the dead-letter stream",
                          **mode)

    def observe(self, stats) -> None:
        self.length.set(stats.length)
        self.dead.set(stats.dead_letters)
        for group in stats.groups:
            self.lag.labels(group=group.name).set(group.lag_seconds)
            self.pending.labels(group=group.name).set(group.pending)
            self.undelivered.labels(group=group.name).set(group.lag)


class Counters:
    """The labelled children of `Metrics`' counters, kept: prometheus_client's `labels()` costs
    microseconds per call, and every answer counts something."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._children: dict[tuple, object] = {}

    def __call__(self, name: str, **labels: str):
        key = (name, *labels.values())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self.metrics, name).labels(**labels)
        return child
