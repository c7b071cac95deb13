"""Evaluation: how a model is judged and what is reported about it.

- `metrics`: ranking metrics over the full catalog (NDCG, recall, MAP, hit rate, coverage);
- `protocols`: the splits a model is fit and judged on (calendar, last_basket) and the rule that
  picks the headline one;
- `selection`: which contender becomes the challenger;
- `promotion`: the rule a challenger must pass to replace the champion;
- `reports`: the shapes of the tuning report, the evaluation report and the model card, as plain
  dicts.
Nothing here fits a model (no import of `ml.ranking`): fitting and judging the contenders is
`ml.ranking.contenders`, and `ml.ranking.training.evaluate` scores a fitted one with `metrics`.
"""
