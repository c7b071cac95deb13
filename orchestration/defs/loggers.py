"""A terse progress logger for the command line: one line per step and per check."""

import logging
import sys
import time

import dagster as dg

TAILOR_GATES = ("_pass_suite", "_within_limits", "_beats_champion")  # a line even when they pass
DBT_STEPS = ("transforms_dbt_assets", "point_in_time_dbt_assets")  # dbt chatter: the run log


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            # An asset's own progress (context.log, e.g. model_tuning's trial lines); dbt's
            # per-model chatter stays in the run log.
            if step and step not in DBT_STEPS and record.levelno >= logging.INFO:
                print(f"      {step}: {meta.get('orig_message', record.getMessage())}",
                      file=sys.stderr, flush=True)
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            line = f"  ... {step}"
        elif kind == "STEP_SUCCESS":
            seconds = time.monotonic() - self.started.get(step, time.monotonic())
            line = f"  ok  {step} ({seconds:.1f} s)"
        elif kind == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error.cause is not None:  # the user-code error, not Dagster's wrapper
                error = error.cause
            line = f"  FAILED {step}: {error.message.strip()[:500]}"
        elif kind == "STEP_SKIPPED":
            line = f"  skipped {step} (an upstream step or blocking check failed)"
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            # dbt's many tests are summarised by their step; only failures get a line of their own.
            if evaluation.passed and not evaluation.check_name.endswith(TAILOR_GATES):
                return
            verdict = "pass" if evaluation.passed else "FAIL"
            asset = evaluation.asset_key.to_user_string()
            line = f"  check {evaluation.check_name} on {asset}: {verdict}"
            if not evaluation.passed and evaluation.description:
                line += f": {evaluation.description[:1000]}"  # the numbers of the gate
        else:
            return
        print(line, file=sys.stderr, flush=True)


@dg.logger(description="One line per step, check and failure, for the tailor CLI.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("tailor.progress")
    logger.setLevel(logging.DEBUG)
    logger.handlers = [_ProgressHandler()]
    logger.propagate = False
    return logger


@dg.definitions
def loggers() -> dg.Definitions:
    return dg.Definitions(
        loggers={"console": dg.colored_console_logger, "progress": progress_logger}
    )
