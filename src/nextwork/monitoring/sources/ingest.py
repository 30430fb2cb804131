"""The ingestion endpoint as a source: nothing to poll, posts arrive by ``POST /api/v1/ingest``
with the source's token (``services.source_for_token``)."""

from __future__ import annotations

from nextwork.monitoring.sources import SourcePlugin, register


@register
class Ingest(SourcePlugin):
    kind = "ingest"
    polled = False
