"""ml: plain Python, no Dagster and no BentoML; the pipeline (orchestration/) and the service
(serving/) both call it. By stage:

    schema.py, data.py     the data contract's columns; interactions as arrays, time windows
    sources/               adapters onto the contract, its validation, loading by source name
    synthetic/             every data generator, from one hidden truth: the synthetic store,
                           its simulated next days, visitors who react to the real service
    point_in_time.py       the splits' cutoffs for dbt, and the point-in-time features dbt
                           builds for them (models/features), read as arrays
    candidates.py          nine candidate sources (ALS, content, co-purchase, item-kNN, EASE,
                           sequence, repeat, trending, segment) in one CandidateIndex
    neighbors.py           the item-to-item matrices of the neighbour sources
    ranking/               pair features and the XGBoost re-ranker, the contenders (the hybrid
                           and each source alone), training and evaluate on a split, every
                           contender fit and judged on every split (contenders.py), Optuna
                           tuning
    evaluation/            metrics, the protocols (splits), the selection rule, the promotion
                           rule, the reports' and model card's shapes: never fits a model
    challenger.py          everything a promoted model carries, built and written once
    bundle.py, consent.py  the serving bundle's files; the consent snapshot it carries
    kernels.py             compiled steps training and serving share
    online/                what serving computes per request: the scorer, a visitor's profile,
                           how an event changes it (profile_rules.py, from the model's card),
                           live rows
    monitoring.py          Evidently drift reports against the model's own reference
    experiments/           A/B tests: definitions (design.py), sticky assignment
                           (assignment.py), the statistics (scipy/statsmodels), power, the
                           verdict, the per-visitor analysis and report (analysis.py)
"""
