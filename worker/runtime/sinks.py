"""Where new inputs go: Celery tasks on this deployment's queue. The sources stage hands entries
and requests to an ``EntrySink``; this is the one the runtime gives it."""

from __future__ import annotations

import redis
from celery import Celery

from worker.model import InputDocument, Stage
from worker.pipeline import DeadLetterWriter
from worker.runtime.app import create_app
from worker.runtime.messages import FETCH_TASK, INGEST_TASK, encode_document
from worker.settings import Settings
from worker.sources.requests import IngestRequest, RequestConsumer
from worker.store.keys import Keys


class CelerySink:
    """Sends new inputs on as tasks on this deployment's queue."""

    def __init__(self, app: Celery, keys: Keys) -> None:
        self.app = app
        self.keys = keys

    def ingest(self, doc: InputDocument) -> None:
        self.app.send_task(INGEST_TASK, args=[encode_document(doc)], queue=self.keys.queue, task_id=doc.doc_id)

    def fetch(self, doc_id: str, url: str, *, source_kind: str, run_id: str | None,
              published: str | None = None) -> None:
        message = {"doc_id": doc_id, "url": url, "source_kind": source_kind, "run_id": run_id}
        if published:
            message["published"] = published  # a feed entry's date (``InputDocument.published_hint``)
        self.app.send_task(FETCH_TASK, args=[message], queue=self.keys.queue, task_id=f"fetch-{doc_id}")


def hand_on(sink: CelerySink, request: IngestRequest) -> None:
    """A request from the stream becomes a fetch task (URL) or an ingest task (file body)."""
    if request.kind == "url":
        sink.fetch(request.doc_id, request.uri, source_kind="url", run_id=request.run_id)
    else:
        sink.ingest(InputDocument(request.doc_id, "file", request.uri, request.body,
                                  content_type=request.content_type, run_id=request.run_id))


def build_consumer(settings: Settings, client: redis.Redis, name: str | None = None) -> RequestConsumer:
    """A RequestConsumer handing requests on as Celery tasks and dead-lettering (stage request)."""
    keys = Keys(settings.prefix)
    sink = CelerySink(create_app(settings), keys)
    dead_letters = DeadLetterWriter.for_settings(client, settings)
    return RequestConsumer(
        client, keys, settings.requests, handle=lambda request: hand_on(sink, request),
        dead_letter=lambda doc, exc, attempts: dead_letters.dead_letter(doc, exc, attempts, Stage.REQUEST),
        name=name,
    )
