"""kavach's metrics in your own tests, read from an in-memory OpenTelemetry reader."""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from kavach_fastapi import metrics


@contextmanager
def recorded_metrics() -> Iterator[InMemoryMetricReader]:
    """Record kavach's metrics into a reader of the block's own, then go back to the global one."""
    reader = InMemoryMetricReader()
    metrics.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        yield reader
    finally:
        metrics.use_meter_provider(None)


def totals(reader: InMemoryMetricReader) -> dict[str, float]:
    """Each counter's total over all its attributes, by name."""
    found: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is not None:
                        found[metric.name] = found.get(metric.name, 0) + value
    return found
