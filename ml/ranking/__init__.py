"""Ranking: the hybrid recommender on top of the candidate index (`ml.candidates`).

- `features`: the pair features of a (user, candidate item) and the XGBoost learning-to-rank model
  that scores them (`fit_ranker`, `score_pairs`);
- `hybrid`: the contenders over an index, the hybrid (candidates + re-ranker) and each source
  alone (popularity, repeat-purchase and ALS alone are the baselines), with the one trending
  padding;
- `training`: training of a contender on a split (per-user labels for the re-ranker) and the
  evaluation of every contender;
- `tuning`: Optuna studies over each contender's settings, on time folds.
"""
