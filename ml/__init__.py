"""ml: plain Python, no Dagster and no BentoML; the pipeline (orchestration/) and the service
(serving/) both call it. By stage:

    schema.py, data.py     the data contract's columns; interactions as arrays, time windows
    sources/               adapters onto the contract, its validation, the synthetic store and
                           the simulated next days (data nobody has to download)
    candidates.py          six candidate sources (ALS, content, co-purchase, repeat, trending,
                           segment) in one CandidateIndex
    ranking/               pair features and the XGBoost re-ranker, the hybrid and the baselines,
                           training and tuning
    evaluation/            metrics, the promotion rule, the reports and the model card
    challenger.py          everything a promoted model carries, built and written once
    bundle.py, consent.py  the serving bundle's files; the consent snapshot it carries
    kernels.py, online.py  compiled steps training and serving share; per-request scoring
    monitoring.py          Evidently drift reports against the model's own reference
"""
