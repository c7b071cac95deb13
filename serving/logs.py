"""The service's JSON logs: one object per line on stderr (logger `tailor.serving`), never a user id
or a request's input values."""

from __future__ import annotations

import json
import logging
import sys

logger = logging.getLogger("tailor.serving")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a record of `_log_answers` is one line per answer."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                   "logger": record.name, "event": record.getMessage()}
        answers = getattr(record, "answers", None)
        if answers is not None:
            return "\n".join(json.dumps({**payload, **fields}, default=str) for fields in answers)
        payload.update(getattr(record, "fields", {}))
        return json.dumps(payload, default=str)


class ScrubValidationErrors(logging.Filter):
    """BentoML logs a request's pydantic ValidationError with its traceback, whose text quotes the
    input (user ids). Keep the fact and the fields, drop the values."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and type(error).__name__ == "ValidationError":
            fields = [".".join(map(str, e.get("loc", ()))) for e in error.errors()]
            record.msg = "invalid request %s: fields %s"
            record.args = (record.args[0] if record.args else "?", fields)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"  # the client's error
        return True


def configure_logging() -> None:
    if getattr(logger, "_tailor_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger._tailor_configured = True  # type: ignore[attr-defined]
    logging.getLogger("bentoml._internal.server.http_app").addFilter(ScrubValidationErrors())


def log_event(event: str, level: int = logging.INFO, **fields) -> None:
    logger.log(level, event, extra={"fields": fields})


def log_answers(answers: list[dict]) -> None:
    """The "answer" lines of a batch of answers, in one log record: a LogRecord and a handler
    call per answer would cost a tenth of a computed answer."""
    if answers and logger.isEnabledFor(logging.INFO):
        logger.info("answer", extra={"answers": answers})

