"""Options more than one command takes, and the checks argparse runs on them."""

from __future__ import annotations

import argparse

SOURCES = ("synthetic", "online-retail", "rees46", "files")
PLACEMENTS = ("homepage", "product_page", "cart", "email")  # serving.schemas.Placement


def add_synthetic_options(parser: argparse.ArgumentParser) -> None:
    """The synthetic store's options (`demo`, `run`), with --tuning-trials."""
    parser.add_argument(
        "--size",
        choices=("small", "1m"),
        default="small",
        help="synthetic store size: small (demo) or 1m (about a million events)",
    )
    parser.add_argument("--seed", type=int, default=7, help="synthetic store seed")
    add_tuning_trials(parser)


def add_tuning_trials(parser: argparse.ArgumentParser,
                      stage: str = "(ALS, item-kNN, EASE, sequence, ranker)") -> None:
    """--tuning-trials and --tuning-seconds: what every command that trains takes; `stage` ends
    the help's first part."""
    parser.add_argument(
        "--tuning-trials",
        type=int,
        default=None,
        metavar="N",
        help=f"Optuna trials per study {stage}, within model_tuning's seconds budget; "
        "1 = the starting settings (default: [tuning] trials of the settings file, else 4)",
    )
    parser.add_argument(
        "--tuning-seconds",
        type=float,
        default=None,
        metavar="S",
        help="seconds for all tuning studies (default: [tuning] seconds of the settings file, "
        "else model_tuning's, 30); each study still runs its starting settings",
    )


def tuning_config(args: argparse.Namespace, settings=None) -> dict:
    """--tuning-trials (at least one trial per study) and --tuning-seconds as the op config of
    model_tuning; an option not given takes the settings file's [tuning] value
    (orchestration.lib.shop_settings.TuningSettings), else the default."""
    from orchestration.lib.shop_settings import TuningSettings

    settings = settings or TuningSettings()
    trials, seconds = args.tuning_trials, getattr(args, "tuning_seconds", None)
    changes = {"trials": max(trials, 1)} if trials is not None else {}
    if seconds is not None:
        changes["seconds"] = max(seconds, 0.0)
    return {"model_tuning": settings.model_copy(update=changes).op_config()}


def k_items(text: str) -> int:
    """How many items: the service's limit (serving.schemas.K)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100, got {value}")
    return value
