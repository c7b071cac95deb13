"""Ranking: the hybrid recommender on top of the candidate index (`ml.candidates`).

- `features`: the pair features of a (user, candidate item) and the XGBoost learning-to-rank model
  that scores them (`fit_ranker`, `score_pairs`);
- `hybrid`: recommenders over an index, the hybrid (candidates + re-ranker) and the baselines
  (popularity, repeat-purchase, ALS alone), with the one trending padding;
- `training`: time-split training of the hybrid, its evaluation beside the baselines, and tuning.
"""
