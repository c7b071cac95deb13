"""The online side of the model: what serving computes per request.

    scorer.py         `OnlineScorer`: the hybrid's candidates, features and ranking for a few
                      users at a time, equal to the batch code's (one compiled pass)
    profile.py        `Profile` and `apply_event`: a visitor's live state, and how one event
                      changes it (pure functions; the stream workers and the read-your-writes
                      path both call them)
    profile_rules.py  `ProfileRules`: the serving model's categories, event weights and
                      half-life, from its card (nothing read from the repository at run time)
    live.py           `LiveRows`: the model's per-user rows plus a profile's events it has not
                      seen, as dbt would compute them with those events in the warehouse (what
                      serving ranks by)
"""
